//! `dockvm schema` through its consumers: python3-jsonschema (draft 2020-12), with format
//! checking on and off (off is its default, and "format" is then only an annotation, so every
//! format has a pattern too), validates every example spec and refuses a table of bad ones; the defaults it states are
//! the ones the loader applies; `dockvm init` writes it beside the spec its first line names.

mod support;

use std::process::Command;
use support::*;

fn schema() -> serde_json::Value {
    let out = run(dockvm().arg("schema"));
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Validates each TOML text against the schema with python3-jsonschema, checking formats or
/// not: the error count of each, in order.
fn errors(texts: &[String], formats: bool) -> Vec<usize> {
    let t = tempfile::tempdir().unwrap();
    let dir = utf8_dir(&t);
    std::fs::write(dir.join("schema.json"), schema().to_string()).unwrap();
    for (i, text) in texts.iter().enumerate() {
        std::fs::write(dir.join(format!("{i:03}.toml")), text).unwrap();
    }
    let script = r#"
import json, sys, tomllib, glob
from jsonschema import Draft202012Validator, FormatChecker
schema = json.load(open(sys.argv[1] + "/schema.json"))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema, format_checker=FormatChecker() if sys.argv[2] == "on" else None)
for f in sorted(glob.glob(sys.argv[1] + "/*.toml")):
    with open(f, "rb") as h:
        doc = tomllib.load(h)
    print(len(list(v.iter_errors(doc))))
"#;
    let formats = if formats { "on" } else { "off" };
    let out = run(Command::new("python3").args(["-c", script, dir.as_str(), formats]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

fn have_jsonschema() -> bool {
    run(Command::new("python3").args(["-c", "import jsonschema, tomllib"]))
        .status
        .success()
}

#[test]
fn every_example_validates_and_bad_specs_do_not() {
    if !require(
        have_jsonschema(),
        "needs python3-jsonschema (ci/install-deps installs it)",
    ) {
        return;
    }
    let mut texts = Vec::new();
    let mut names = Vec::new();
    for e in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples")).unwrap() {
        let p = e.unwrap().path();
        texts.push(std::fs::read_to_string(&p).unwrap());
        names.push(p.display().to_string());
    }
    let good = texts.len();
    let base = "[vm]\nvmx = 'D:\\v\\v.vmx'\nip = \"192.168.130.2\"\n";
    let share = "[[shares]]\nname = \"d\"\nhost_path = 'D:\\'\n";
    let bad = [
        format!("{base}colour = \"red\"\n{share}"),
        format!("{base}[docker]\nport = 70000\n{share}"),
        format!("{base}[docker]\nport = \"2375\"\n{share}"),
        format!("{base}[docker]\npackage = \"podman\"\n{share}"),
        format!("{base}[docker]\ntls = \"yes\"\n{share}"),
        format!("[vm]\nname = \"Dev\"\nvmx = 'D:\\v\\v.vmx'\nip = \"192.168.130.2\"\n{share}"),
        format!("[vm]\nvmx = 'D:\\v\\v.txt'\nip = \"192.168.130.2\"\n{share}"),
        format!("[vm]\nvmx = 'D:\\v\\v.vmx'\nip = \"192.168.1\"\n{share}"),
        format!(
            "[vm]\nvmx = 'D:\\v\\v.vmx'\nip = \"192.168.130.2\"\nhostname = \"local_test\"\n{share}"
        ),
        base.to_owned(),
        format!("{base}shares = []\n"),
        format!("{base}[[shares]]\nname = \"d/e\"\nhost_path = 'D:\\'\n"),
        format!("{base}[[shares]]\nname = \"d\"\nhost_path = '/mnt/d'\n"),
        format!("{base}[windows]\ndocker_dir = 'C:\\a;C:\\b'\n{share}"),
        format!("{base}[wsl]\nautomount_root = \"/mnt\"\n{share}"),
        format!("{base}[wsl]\nprofile = \"$HOME/.profile\"\n{share}"),
        format!("{base}[docker]\nlisten = \"everywhere\"\n{share}"),
        format!("[vm]\nvmx = 'D:\\v\\v.vmx'\nip = \"0.0.0.0\"\n{share}"),
        format!("[vm]\nvmx = 'D:\\v\\v.vmx'\nip = \"224.0.0.1\"\n{share}"),
        format!("[vm]\nvmx = 'D:\\v\\v.vmx'\nip = \"192.168.130.256\"\n{share}"),
    ];
    // Each bad one is refused by dockvm too: the schema says no more than the loader does.
    for b in &bad {
        assert!(
            dockvm_spec::load_str("b", b).is_err(),
            "the loader takes:\n{b}"
        );
    }
    texts.extend(bad.iter().cloned());
    for formats in [true, false] {
        let counts = errors(&texts, formats);
        for (i, n) in counts.iter().enumerate() {
            if i < good {
                assert_eq!(*n, 0, "{} does not validate (formats {formats})", names[i]);
            } else {
                assert!(
                    *n > 0,
                    "the schema takes a bad spec (formats {formats}):\n{}",
                    texts[i]
                );
            }
        }
    }
}

/// vm.ip and docker.listen, whose schema is a pattern beside the format: with format checking
/// off (python-jsonschema's default, and most editors'), the schema takes exactly the addresses
/// the loader takes, over a table of edge cases.
#[test]
fn the_address_patterns_take_what_the_loader_takes() {
    if !require(
        have_jsonschema(),
        "needs python3-jsonschema (ci/install-deps installs it)",
    ) {
        return;
    }
    let candidates = [
        "192.168.130.2",
        "10.0.0.1",
        "0.1.2.3",
        "1.2.3.4",
        "9.99.199.255",
        "223.255.255.254",
        "224.0.0.1",
        "239.1.1.1",
        "240.0.0.1",
        "255.1.2.3",
        "255.255.255.255",
        "0.0.0.0",
        "01.2.3.4",
        "1.2.3.04",
        "256.1.1.1",
        "1.2.3",
        "1.2.3.4.5",
        "1.2.3.4 ",
        " 1.2.3.4",
        "1..2.3",
        "a.b.c.d",
        "",
        "1.2.3.4\n",
        "::1",
        "192.168.130.2/24",
        "everywhere",
    ];
    let share = "[[shares]]\nname = \"d\"\nhost_path = 'D:\\'\n";
    let mut texts = Vec::new();
    let mut listen = Vec::new();
    for c in candidates {
        let q = c
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        texts.push(format!("[vm]\nvmx = 'D:\\v\\v.vmx'\nip = \"{q}\"\n{share}"));
        listen.push(None);
        texts.push(format!(
            "[vm]\nvmx = 'D:\\v\\v.vmx'\nip = \"192.168.130.2\"\n[docker]\nlisten = \"{q}\"\n{share}"
        ));
        listen.push(Some(c));
    }
    let counts = errors(&texts, false);
    for ((text, n), listen) in texts.iter().zip(counts).zip(listen) {
        let loads = dockvm_spec::load_str("c", text);
        // The loader's listen rule (vm.ip or 0.0.0.0) is about the value, not its form: for
        // listen, the form is whether the loader's parse takes it as an IPv4 address.
        let loader_takes = match listen {
            Some(v) => v.parse::<std::net::Ipv4Addr>().is_ok(),
            None => loads.is_ok(),
        };
        assert_eq!(
            n == 0,
            loader_takes,
            "schema errors {n}, loader {loads:?}:\n{text}"
        );
    }
}

/// The defaults the schema states, written out, give the same spec as leaving them out.
#[test]
fn the_schema_s_defaults_are_the_loader_s() {
    let s = schema();
    let min = "[vm]\nvmx = 'D:\\v\\v.vmx'\nip = \"192.168.130.2\"\n[[shares]]\nname = \"d\"\nhost_path = 'D:\\'\n";
    let mut explicit = String::from("[vm]\nvmx = 'D:\\v\\v.vmx'\nip = \"192.168.130.2\"\n");
    let mut seen = 0;
    let props_of = |v: &serde_json::Value| -> serde_json::Map<String, serde_json::Value> {
        let v = match v.get("$ref").and_then(|r| r.as_str()) {
            Some(r) => &s["$defs"][r.trim_start_matches("#/$defs/")],
            None => v,
        };
        v["properties"].as_object().cloned().unwrap_or_default()
    };
    for (table, def) in s["properties"].as_object().unwrap() {
        if table == "shares" {
            continue;
        }
        if table != "vm" {
            explicit.push_str(&format!("[{table}]\n"));
        }
        for (key, p) in props_of(def) {
            let Some(d) = p.get("default") else { continue };
            let value = match d {
                serde_json::Value::String(v) => format!("'{v}'"),
                other => other.to_string(),
            };
            if table == "vm" {
                explicit.insert_str(5, &format!("{key} = {value}\n"));
            } else {
                explicit.push_str(&format!("{key} = {value}\n"));
            }
            seen += 1;
        }
    }
    explicit.push_str("[[shares]]\nname = \"d\"\nhost_path = 'D:\\'\n");
    assert!(seen >= 9, "{seen} defaults in the schema");
    let a = dockvm_spec::load_str("min", min).unwrap().spec;
    let b = dockvm_spec::load_str("explicit", &explicit)
        .unwrap_or_else(|e| panic!("{e}\n{explicit}"))
        .spec;
    assert_eq!(a, b, "{explicit}");
}

#[test]
fn init_writes_the_schema_its_spec_names() {
    let t = tempfile::tempdir().unwrap();
    let dir = utf8_dir(&t);
    let out = run(dockvm().arg("init").arg(dir.join("dockvm.toml")));
    assert!(out.status.success());
    let spec = std::fs::read_to_string(dir.join("dockvm.toml")).unwrap();
    assert!(
        spec.starts_with("#:schema ./dockvm.schema.json\n"),
        "{spec}"
    );
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("dockvm.schema.json")).unwrap()).unwrap();
    assert_eq!(written, schema());
    // A schema already there is kept.
    std::fs::remove_file(dir.join("dockvm.toml")).unwrap();
    std::fs::write(dir.join("dockvm.schema.json"), "{}").unwrap();
    let out = run(dockvm().arg("init").arg(dir.join("dockvm.toml")));
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(dir.join("dockvm.schema.json")).unwrap(),
        "{}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("kept"));
}
