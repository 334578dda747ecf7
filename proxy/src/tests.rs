use crate::http::{self, Framing};
use crate::rewrite::{self, Kind, Rewrite};
use proptest::prelude::*;
use std::io::{BufReader, Cursor};

fn spec() -> dockvm_spec::Spec {
    dockvm_spec::load_str(
        "t.toml",
        r#"[vm]
name = "lab"
vmx = 'D:\vm\lab.vmx'
ip = "192.168.56.10"

[[shares]]
name = "projects"
host_path = 'D:\projects'

[[shares]]
name = "work"
host_path = 'E:\工作'
"#,
    )
    .unwrap()
    .spec
}

fn create(binds: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"Image": "x", "HostConfig": {"Binds": binds}})).unwrap()
}

fn binds_of(body: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    v["HostConfig"]["Binds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_owned())
        .collect()
}

/// Each `-v` form the Windows CLI sends, and what the daemon gets: `Ok` the new entry, `Err` a
/// piece of the refusal.
const BINDS: &[(&str, Result<&str, &str>)] = &[
    (r"D:\projects:/p", Ok("/mnt/d/projects:/p")),
    (
        r"D:\projects\app:/app:ro",
        Ok("/mnt/d/projects/app:/app:ro"),
    ),
    (r"d:/projects/app:/app", Ok("/mnt/d/projects/app:/app")),
    (r"D:\PROJECTS\App\:/app", Ok("/mnt/d/projects/App:/app")),
    (
        r"D:\projects\a b\项目:/p:rw,z",
        Ok("/mnt/d/projects/a b/项目:/p:rw,z"),
    ),
    (r"D:\projects\x\..\y:/p", Ok("/mnt/d/projects/y:/p")),
    (r"e:\工作\x:/x", Ok("/mnt/e/工作/x:/x")),
    (r"\\?\D:\projects\q:/q", Ok("/mnt/d/projects/q:/q")),
    (
        r"D:\other:/p",
        Err(r"D:\other is not inside a share of VM lab"),
    ),
    (r"D:\projects\..\secret:/p", Err("not inside a share")),
    (
        r"C:\Users\me:/p",
        Err(r"The shares: D:\projects (/mnt/d/projects), E:\工作 (/mnt/e/工作)"),
    ),
    (r"\\server\share\x:/p", Err("is a network path")),
    (
        r"D:relative:/p",
        Err("relative to a drive's current folder"),
    ),
];

#[test]
fn binds_are_translated_or_refused() {
    let spec = spec();
    for (entry, want) in BINDS {
        let r = rewrite::rewrite(&spec, Kind::ContainerCreate, &create(&[entry]));
        match (want, r) {
            (Ok(w), Rewrite::Changed(b)) => {
                assert_eq!(binds_of(&b), vec![w.to_string()], "{entry}")
            }
            (Err(piece), Rewrite::Refused(m)) => {
                assert!(
                    m.starts_with("dockvm proxy: ") && m.contains(piece),
                    "{entry}: {m}"
                )
            }
            (w, r) => panic!("{entry}: wanted {w:?}, got {r:?}"),
        }
    }
}

#[test]
fn linux_paths_and_volumes_pass_unchanged() {
    let spec = spec();
    for b in [
        "/mnt/d/projects:/p",
        "/srv/data:/data:ro",
        "named:/v",
        "named",
        "/anon",
    ] {
        assert_eq!(
            rewrite::rewrite(&spec, Kind::ContainerCreate, &create(&[b])),
            Rewrite::Unchanged,
            "{b}"
        );
    }
    // A body that is not JSON goes on, for the daemon to answer.
    assert_eq!(
        rewrite::rewrite(&spec, Kind::ContainerCreate, b"{not json"),
        Rewrite::Unchanged
    );
}

#[test]
fn mounts_services_and_volumes_are_translated() {
    let spec = spec();
    let body = serde_json::json!({"HostConfig": {"Mounts": [
        {"Type": "bind", "Source": r"D:\projects\a", "Target": "/a"},
        {"Type": "volume", "Source": "D:vol", "Target": "/v"},
    ]}});
    let Rewrite::Changed(b) = rewrite::rewrite(
        &spec,
        Kind::ContainerCreate,
        &serde_json::to_vec(&body).unwrap(),
    ) else {
        panic!()
    };
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["HostConfig"]["Mounts"][0]["Source"], "/mnt/d/projects/a");
    assert_eq!(v["HostConfig"]["Mounts"][1]["Source"], "D:vol");

    let svc = serde_json::json!({"TaskTemplate": {"ContainerSpec": {"Mounts": [
        {"Type": "bind", "Source": r"E:\工作", "Target": "/w"}]}}});
    let Rewrite::Changed(b) =
        rewrite::rewrite(&spec, Kind::Service, &serde_json::to_vec(&svc).unwrap())
    else {
        panic!()
    };
    assert!(String::from_utf8(b).unwrap().contains("/mnt/e/工作"));

    let vol = |driver: &str, dev: &str| {
        serde_json::to_vec(&serde_json::json!({"Name": "v", "Driver": driver,
            "DriverOpts": {"type": "none", "o": "bind", "device": dev}}))
        .unwrap()
    };
    assert!(
        matches!(rewrite::rewrite(&spec, Kind::VolumeCreate, &vol("local", r"D:\projects")), Rewrite::Changed(b) if String::from_utf8_lossy(&b).contains("/mnt/d/projects"))
    );
    assert!(matches!(
        rewrite::rewrite(&spec, Kind::VolumeCreate, &vol("", r"C:\x")),
        Rewrite::Refused(_)
    ));
    // Another driver's options are its own business.
    assert_eq!(
        rewrite::rewrite(&spec, Kind::VolumeCreate, &vol("nfs", r"C:\x")),
        Rewrite::Unchanged
    );
}

#[test]
fn which_requests_carry_host_paths() {
    for (m, t, k) in [
        (
            "POST",
            "/v1.41/containers/create?name=x",
            Some(Kind::ContainerCreate),
        ),
        ("POST", "/containers/create", Some(Kind::ContainerCreate)),
        ("POST", "/v1.24/services/create", Some(Kind::Service)),
        (
            "POST",
            "/services/abc/update?version=3",
            Some(Kind::Service),
        ),
        ("POST", "/v1.41/volumes/create", Some(Kind::VolumeCreate)),
        ("GET", "/v1.41/containers/create", None),
        ("POST", "/v1.41/containers/abc/start", None),
        ("POST", "/v1.41/build?t=x", None),
        ("PUT", "/v1.41/containers/abc/archive?path=/x", None),
    ] {
        assert_eq!(rewrite::kind(m, t), k, "{m} {t}");
    }
}

proptest! {
    /// Any path below a share, in any case and either separator, becomes its WSL path below the
    /// share's; the rest of the entry is kept.
    #[test]
    fn any_path_below_a_share_is_its_wsl_path(
        parts in prop::collection::vec("[a-zA-Z0-9 _.项目-]{1,8}", 0..4),
        upper in any::<bool>(),
        slash in any::<bool>(),
        mode in prop::sample::select(vec!["", ":ro", ":rw,z"]),
    ) {
        prop_assume!(parts.iter().all(|p| p != "." && p != ".."));
        let sep = if slash { "/" } else { "\\" };
        let share = if upper { "D:\\PROJECTS" } else { "d:\\projects" };
        let src = std::iter::once(share.to_owned()).chain(parts.iter().cloned()).collect::<Vec<_>>().join(sep);
        let entry = format!("{src}:/p{mode}");
        let r = rewrite::rewrite(&spec(), Kind::ContainerCreate, &create(&[&entry]));
        let want = std::iter::once("/mnt/d/projects".to_owned()).chain(parts).collect::<Vec<_>>().join("/");
        prop_assert_eq!(r, Rewrite::Changed(create(&[&format!("{want}:/p{mode}")])));
    }

    /// A chunked body relayed is the same bytes, and the relay stops at its end.
    #[test]
    fn a_chunked_body_is_relayed_as_written(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..300), 0..8),
        ext in any::<bool>(),
    ) {
        let mut wire: Vec<u8> = Vec::new();
        let mut data: Vec<u8> = Vec::new();
        for c in &chunks {
            wire.extend(format!("{:x}{}\r\n", c.len(), if ext { ";x=1" } else { "" }).as_bytes());
            wire.extend(c);
            wire.extend(b"\r\n");
            data.extend(c);
        }
        wire.extend(b"0\r\nTrailer: t\r\n\r\n");
        let mut input = wire.clone();
        input.extend(b"NEXT");
        let mut r = BufReader::new(Cursor::new(input.clone()));
        let mut out = Vec::new();
        http::copy_chunked(&mut r, &mut out).unwrap();
        prop_assert_eq!(&out, &wire);
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut r, &mut rest).unwrap();
        prop_assert_eq!(rest, b"NEXT".to_vec());
        let mut r = BufReader::new(Cursor::new(input));
        prop_assert_eq!(http::read_chunked(&mut r, 1 << 20).unwrap(), data);
    }
}

#[test]
fn framing_follows_rfc_9112() {
    let head = |h: &str| {
        http::read_head(&mut BufReader::new(Cursor::new(
            format!("GET / HTTP/1.1\r\n{h}\r\n").into_bytes(),
        )))
        .unwrap()
    };
    assert_eq!(head("").framing(true), Some(Framing::None));
    assert_eq!(head("").framing(false), Some(Framing::UntilEof));
    assert_eq!(
        head("Content-Length: 5\r\n").framing(true),
        Some(Framing::Length(5))
    );
    assert_eq!(
        head("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n").framing(true),
        Some(Framing::Chunked)
    );
    assert_eq!(
        head("Content-Length: 5\r\nContent-Length: 6\r\n").framing(true),
        None
    );
    assert_eq!(head("Content-Length: x\r\n").framing(true), None);
    assert!(matches!(
        http::read_head(&mut BufReader::new(Cursor::new(
            b"GET / HTTP/1.1\r\nbad header\r\n\r\n".to_vec()
        ))),
        Err(http::HeadError::Malformed(_))
    ));
    let big = format!(
        "GET / HTTP/1.1\r\nX: {}\r\n\r\n",
        "a".repeat(http::HEAD_LIMIT)
    );
    assert!(matches!(
        http::read_head(&mut BufReader::new(Cursor::new(big.into_bytes()))),
        Err(http::HeadError::TooLarge)
    ));
}

#[test]
fn a_failing_listener_backs_off_to_two_seconds_and_starts_over_after_a_success() {
    let mut b = crate::Backoff::default();
    let waits: Vec<u64> = (0..8).map(|_| b.wait().as_millis() as u64).collect();
    assert_eq!(waits, [50, 100, 200, 400, 800, 1600, 2000, 2000]);
    b.reset();
    assert_eq!(b.wait().as_millis(), 50);
}
