//! A VM's `.vmx`: `key = "value"` lines in the encoding its `.encoding` key names (UTF-8 on
//! some hosts; the ANSI code page on others: `"Shift_JIS"` on a Japanese Windows, `"GBK"` on a
//! Chinese one), values with VMware's `|XX` escapes (`|22` a quote, `|7C` a bar). What dockvm
//! needs from it: the network adapters, each with the virtual network it is on and its MAC.

use encoding_rs::Encoding;
use std::collections::BTreeMap;

/// The .vmx's entries, keys lower-cased (VMware reads them without case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vmx {
    entries: BTreeMap<String, String>,
}

/// How a VMware network adapter is connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// A VMnet VMware's DHCP serves: `VMnet8` (NAT), `VMnet1` (host-only), or a custom one.
    Vmnet(String),
    /// Bridged to a physical network: VMware's DHCP does not serve it.
    Bridged,
    /// Another kind (a LAN segment, ...), named as the .vmx says.
    Other(String),
}

/// One `ethernetN` adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adapter {
    /// `ethernet0`, ...
    pub name: String,
    pub network: Network,
    /// The MAC in lower case with colons, or `None` for a VM never powered on (no
    /// generatedAddress yet).
    pub mac: Option<String>,
    /// VMware chose the MAC (`addressType = "generated"`): it changes when VMware is told the
    /// VM was copied.
    pub generated: bool,
}

impl Vmx {
    /// Reads the .vmx's bytes: the `.encoding` line first (ASCII), then every line in it.
    pub fn parse(bytes: &[u8]) -> Result<Vmx, String> {
        let encoding_name = bytes
            .split(|b| *b == b'\n')
            .filter_map(|l| line(&String::from_utf8_lossy(l)))
            .find(|(k, _)| k == ".encoding")
            .map(|(_, v)| v);
        let text = match encoding_name.as_deref() {
            None => String::from_utf8_lossy(bytes).into_owned(),
            Some(name) => {
                let enc = Encoding::for_label(name.as_bytes()).ok_or_else(|| {
                    format!(".encoding = \"{name}\" is not an encoding dockvm knows")
                })?;
                let (text, _, bad) = enc.decode(bytes);
                if bad {
                    return Err(format!("it is not valid {name}, which its .encoding names"));
                }
                text.into_owned()
            }
        };
        let entries = text
            .lines()
            .filter_map(line)
            .map(|(k, v)| (k.to_lowercase(), unescape(&v)))
            .collect();
        Ok(Vmx { entries })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(&key.to_lowercase()).map(String::as_str)
    }

    /// Every `ethernetN` with `present = "TRUE"`, in order.
    pub fn adapters(&self) -> Vec<Adapter> {
        (0..10)
            .map(|n| format!("ethernet{n}"))
            .filter(|e| {
                self.get(&format!("{e}.present"))
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            })
            .map(|e| {
                let kind = self
                    .get(&format!("{e}.connectionType"))
                    .unwrap_or("bridged")
                    .to_lowercase();
                let network = match kind.as_str() {
                    "nat" => Network::Vmnet("VMnet8".into()),
                    "hostonly" => Network::Vmnet("VMnet1".into()),
                    "custom" => match self.get(&format!("{e}.vnet")) {
                        Some(v) => Network::Vmnet(normal_vmnet(v)),
                        None => Network::Other("custom without vnet".into()),
                    },
                    "bridged" => Network::Bridged,
                    other => Network::Other(other.to_owned()),
                };
                let address_type = self
                    .get(&format!("{e}.addressType"))
                    .unwrap_or("generated")
                    .to_lowercase();
                let generated = address_type != "static";
                let mac = if generated {
                    self.get(&format!("{e}.generatedAddress"))
                } else {
                    self.get(&format!("{e}.address"))
                }
                .map(|m| m.to_lowercase());
                Adapter {
                    name: e,
                    network,
                    mac,
                    generated,
                }
            })
            .collect()
    }
}

/// `VMnet8` however the .vmx spells it (`vmnet8`, `VMnet8`).
fn normal_vmnet(v: &str) -> String {
    match v.to_lowercase().strip_prefix("vmnet") {
        Some(n) => format!("VMnet{n}"),
        None => v.to_owned(),
    }
}

/// A `key = "value"` line (the quotes optional), or `None` for anything else.
fn line(l: &str) -> Option<(String, String)> {
    let l = l.trim_start_matches('\u{feff}').trim();
    if l.starts_with('#') {
        return None;
    }
    let (k, v) = l.split_once('=')?;
    let v = v.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(v);
    Some((k.trim().to_owned(), v.to_owned()))
}

/// VMware's `|XX` escapes (two hex digits) in a value.
fn unescape(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'|'
            && let Some(h) = v.get(i + 1..i + 3)
            && let Ok(x) = u8::from_str_radix(h, 16)
        {
            out.push(x);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapters_are_read_in_the_encoding_the_vmx_names() {
        let (gbk, _, _) = encoding_rs::GBK.encode(
            ".encoding = \"GBK\"\r\ndisplayName = \"开发 |22dev|22\"\r\nethernet0.present = \"TRUE\"\r\nethernet0.connectionType = \"nat\"\r\nethernet0.addressType = \"generated\"\r\nethernet0.generatedAddress = \"00:0C:29:AB:CD:EF\"\r\nethernet1.present = \"TRUE\"\r\nethernet1.connectionType = \"custom\"\r\nethernet1.vnet = \"vmnet3\"\r\nethernet1.addressType = \"static\"\r\nethernet1.address = \"00:50:56:01:02:03\"\r\nethernet2.present = \"FALSE\"\r\nethernet3.present = \"TRUE\"\r\n",
        );
        let vmx = Vmx::parse(&gbk).unwrap();
        assert_eq!(vmx.get("displayname"), Some("开发 \"dev\""));
        assert_eq!(
            vmx.adapters(),
            [
                Adapter {
                    name: "ethernet0".into(),
                    network: Network::Vmnet("VMnet8".into()),
                    mac: Some("00:0c:29:ab:cd:ef".into()),
                    generated: true,
                },
                Adapter {
                    name: "ethernet1".into(),
                    network: Network::Vmnet("VMnet3".into()),
                    mac: Some("00:50:56:01:02:03".into()),
                    generated: false,
                },
                Adapter {
                    name: "ethernet3".into(),
                    network: Network::Bridged,
                    mac: None,
                    generated: true,
                },
            ]
        );
        // Shift_JIS, and UTF-8 with no .encoding at all.
        let (sjis, _, _) = encoding_rs::SHIFT_JIS
            .encode(".encoding = \"Shift_JIS\"\ndisplayName = \"開発\"\nethernet0.present = \"TRUE\"\nethernet0.connectionType = \"hostonly\"\n");
        let vmx = Vmx::parse(&sjis).unwrap();
        assert_eq!(vmx.get("displayName"), Some("開発"));
        assert_eq!(vmx.adapters()[0].network, Network::Vmnet("VMnet1".into()));
        assert_eq!(vmx.adapters()[0].mac, None, "never powered on");
        let vmx = Vmx::parse("displayName = \"工作\"\n".as_bytes()).unwrap();
        assert_eq!(vmx.get("displayName"), Some("工作"));
        assert!(Vmx::parse(b".encoding = \"klingon\"\n").is_err());
    }
}
