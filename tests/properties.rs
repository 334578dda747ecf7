//! Properties that hold for every valid spec: rendering is deterministic; each .reg parses
//! back (regedit's format) to the spec's values; each .bat's vmrun arguments parse back (cmd,
//! then the C runtime) to the spec's paths; the tmpfiles file (through the real
//! systemd-tmpfiles) and the profile (through the real dash) give back the spec's paths and
//! DOCKER_HOST; and no value escapes its field: every file has the same lines, of the same
//! kinds, as the file rendered from a plain spec with as many shares.

mod support;

use dockvm_gen::{Artifact, render};
use dockvm_spec::Spec;
use proptest::prelude::*;
use std::fs;
use std::process::Command;
use support::*;

/// Characters that Windows allows in names and that some consumer treats specially, plus
/// non-ASCII letters as in Chinese user and folder names.
const NAME_CHARS: &[char] = &[
    'a', 'Z', '0', '9', ' ', ' ', '&', '%', '(', ')', '^', '!', '\'', '’', '‘', ';', ',', '=', '+',
    '[', ']', '{', '}', '@', '#', '$', '~', '`', '-', '_', '.', '工', '作', '项', '目', '张', '伟',
    '照', '片', 'é', 'ß', 'ж', '😀',
];

fn name_part() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(NAME_CHARS), 1..10).prop_map(|cs| {
        let s: String = cs.into_iter().collect();
        // Windows strips a trailing space or dot, and the spec refuses such names.
        let s = s.trim_end_matches([' ', '.']).to_owned();
        if s.is_empty() {
            "x".to_owned()
        } else {
            format!("{s}x")
        }
    })
}

fn folder(drive: char) -> impl Strategy<Value = String> {
    proptest::collection::vec(name_part(), 0..4).prop_map(move |parts| {
        let mut p = format!("{drive}:\\");
        p.push_str(&parts.join("\\"));
        p
    })
}

fn file(drive: char, ext: &'static str) -> impl Strategy<Value = String> {
    (folder(drive), name_part()).prop_map(move |(f, n)| {
        let sep = if f.ends_with('\\') { "" } else { "\\" };
        format!("{f}{sep}{n}{ext}")
    })
}

/// A TOML basic string holding `s` exactly.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Debug, Clone)]
struct Case {
    toml: String,
    shares: usize,
    /// What the input says DOCKER_HOST must be: `tcp://<hostname>:<port>`, from the generated
    /// values themselves (an independent model, not `Spec::docker_host`).
    docker_host: String,
    /// The links the VM must get, from the generated values: each share's WSL path (the
    /// automount root, the drive lower-cased, the folders) and compose's (`/`, the drive, the
    /// folders) when that differs, each to `/mnt/hgfs/<share>`.
    links: Vec<(String, String)>,
}

fn case() -> impl Strategy<Value = Case> {
    let host_label = "[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?";
    (
        "[a-z0-9][a-z0-9-]{0,12}",
        any::<[u8; 4]>().prop_filter("a host address", |b| b[0] != 0 && b[0] < 224 && *b != [255; 4]),
        proptest::collection::vec(host_label, 0..3),
        "[a-z][a-z0-9]{0,5}",
        1u16..,
        any::<bool>(),
        file('c', ".vmx"),
        file('d', ".exe"),
        folder('e').prop_filter("no ;", |f| !f.contains(';')),
        proptest::collection::vec(folder('f'), 1..4),
        prop_oneof![Just("/mnt/"), Just("/"), Just("/win/")],
    )
        .prop_map(|(name, ip, labels, tld, port, io, vmx, vmrun, docker_dir, share_paths, root)| {
            let mut hostname = labels.join(".");
            if !hostname.is_empty() {
                hostname.push('.');
            }
            hostname.push_str(&tld);
            let ip = format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]);
            let mut t = format!(
                "[vm]\nname = {}\nvmx = {}\nip = {}\nhostname = {}\n\n[docker]\nport = {port}\npackage = {}\n\n\
                 [vmware]\nvmrun = {}\n\n[windows]\ndocker_dir = {}\n\n[wsl]\nautomount_root = {}\n",
                toml_str(&name),
                toml_str(&vmx),
                toml_str(&ip),
                toml_str(&hostname),
                toml_str(if io { "docker.io" } else { "docker-ce" }),
                toml_str(&vmrun),
                toml_str(&docker_dir),
                toml_str(root),
            );
            // One share per drive (f:, g:, ...), so no two overlap.
            let mut links = Vec::new();
            for (i, p) in share_paths.iter().enumerate() {
                let drive = (b'f' + i as u8) as char;
                let p = format!("{drive}{}", &p[1..]);
                let share = format!("s{i}-{}", name.len());
                t.push_str(&format!("\n[[shares]]\nname = \"{share}\"\nhost_path = {}\n", toml_str(&p)));
                let folders: String = p[3..].split('\\').filter(|c| !c.is_empty()).map(|c| format!("/{c}")).collect();
                let wsl = format!("{root}{drive}{folders}");
                let compose = format!("/{drive}{folders}");
                let target = format!("/mnt/hgfs/{share}");
                if compose != wsl {
                    links.push((compose, target.clone()));
                }
                links.push((wsl, target));
            }
            links.sort();
            Case { toml: t, shares: share_paths.len(), docker_host: format!("tcp://{hostname}:{port}"), links }
        })
}

fn load(case: &Case) -> (Spec, Vec<Artifact>) {
    let spec = dockvm_spec::load_str("prop.toml", &case.toml)
        .unwrap_or_else(|e| panic!("the generator makes valid specs:\n{}\n{e}", case.toml))
        .spec;
    let arts = render(&spec).unwrap();
    (spec, arts)
}

/// A plain spec with `n` shares: the reference shape of every file.
fn plain(n: usize, automount_root: &str) -> Vec<Artifact> {
    let mut t = format!(
        "[vm]\nvmx = 'C:\\v\\v.vmx'\nip = \"10.0.0.2\"\n[wsl]\nautomount_root = \"{automount_root}\"\n"
    );
    for i in 0..n {
        t.push_str(&format!(
            "[[shares]]\nname = \"s{i}\"\nhost_path = '{}:\\'\n",
            (b'f' + i as u8) as char
        ));
    }
    render(&dockvm_spec::load_str("plain.toml", &t).unwrap().spec).unwrap()
}

fn decode(a: &Artifact) -> String {
    if a.bytes.starts_with(b"\xFF\xFE") {
        let units: Vec<u16> = a.bytes[2..]
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&units).unwrap()
    } else {
        String::from_utf8(
            a.bytes
                .strip_prefix(b"\xEF\xBB\xBF")
                .unwrap_or(&a.bytes)
                .to_vec(),
        )
        .unwrap()
    }
}

fn get(arts: &[Artifact], path: &str) -> String {
    decode(arts.iter().find(|a| a.path == path).unwrap())
}

/// What kind of line this is, independent of the values in it.
fn shape(line: &str) -> String {
    let t = line.trim_start();
    for c in ["#", ";", "rem ", "//", ">"] {
        if t.starts_with(c) {
            return format!("comment {c}");
        }
    }
    if t.starts_with("- ") {
        return "list item".into();
    }
    // A line that starts with a value (an address, a quoted path) has the shape "value";
    // anything else is known by its first word: a directive, a keyword, a command.
    let first = t
        .split(|c: char| c.is_whitespace() || c == '=')
        .next()
        .unwrap_or("");
    if first.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '"' | '\'' | '/')) {
        return "value".into();
    }
    first.to_owned()
}

/// regedit's reading of a .reg file: (key, value name, value) for each value line. Panics on
/// any line that is neither a header, blank, comment, key nor value.
fn parse_reg(text: &str) -> Vec<(String, String, Option<String>)> {
    let mut lines = text.split("\r\n");
    assert_eq!(lines.next(), Some("Windows Registry Editor Version 5.00"));
    let mut key = String::new();
    let mut out = Vec::new();
    for line in lines {
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        if let Some(k) = line.strip_prefix('[') {
            key = k
                .strip_suffix(']')
                .expect("a key line ends with ]")
                .to_owned();
            continue;
        }
        let rest = line
            .strip_prefix('"')
            .expect("a value line starts with a quoted name");
        let (name, rest) = rest.split_once("\"=").expect("name then =");
        if rest == "-" {
            out.push((key.clone(), name.to_owned(), None));
            continue;
        }
        let body = rest
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .expect("a REG_SZ in quotes");
        let mut v = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => v.push(chars.next().expect("an escape has a character")),
                '"' => panic!("an unescaped quote inside a REG_SZ: {line}"),
                c => v.push(c),
            }
        }
        out.push((key.clone(), name.to_owned(), Some(v)));
    }
    out
}

/// cmd's first pass over a .bat line: `%%` becomes `%` (a lone `%` would start a variable),
/// and the redirections the template writes after a call (`>nul 2>&1`, `>nul`) are dropped.
/// Any other operator outside double quotes (`&`, `|`, `||`, `<`, `>`, parentheses, `^`) is
/// an injection: the scripts chain nothing on one line.
fn cmd_command(line: &str) -> String {
    let mut expanded = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            assert_eq!(chars.next(), Some('%'), "a lone % in {line}");
        }
        expanded.push(c);
    }
    let command = expanded
        .strip_suffix(" >nul 2>&1")
        .or_else(|| expanded.strip_suffix(" >nul"))
        .unwrap_or(&expanded);
    let mut quoted = false;
    for c in command.chars() {
        if c == '"' {
            quoted = !quoted;
        } else if !quoted {
            assert!(
                !matches!(c, '&' | '|' | '<' | '>' | '(' | ')' | '^'),
                "an operator outside quotes in {line}"
            );
        }
    }
    assert!(!quoted, "unbalanced quotes in {line}");
    command.to_owned()
}

/// The C runtime's split of a command line into argv (argv[0] up to its closing quote; then
/// backslashes are literal unless they precede a quote, where each pair is one backslash).
fn crt_argv(cmdline: &str) -> Vec<String> {
    let s: Vec<char> = cmdline.trim().chars().collect();
    let mut i = 0;
    let mut argv = Vec::new();
    if s.first() == Some(&'"') {
        let end = s[1..].iter().position(|&c| c == '"').unwrap() + 1;
        argv.push(s[1..end].iter().collect());
        i = end + 1;
    }
    loop {
        while i < s.len() && s[i].is_whitespace() {
            i += 1;
        }
        if i >= s.len() {
            return argv;
        }
        let mut arg = String::new();
        let mut quoted = false;
        while i < s.len() && (quoted || !s[i].is_whitespace()) {
            let mut n = 0;
            while i < s.len() && s[i] == '\\' {
                n += 1;
                i += 1;
            }
            if i < s.len() && s[i] == '"' {
                arg.push_str(&"\\".repeat(n / 2));
                if n % 2 == 1 {
                    arg.push('"');
                } else {
                    quoted = !quoted;
                }
                i += 1;
            } else {
                arg.push_str(&"\\".repeat(n));
                if i < s.len() && (quoted || !s[i].is_whitespace()) {
                    arg.push(s[i]);
                    i += 1;
                }
            }
        }
        argv.push(arg);
    }
}

/// Every vmrun invocation of a .bat, as the argv vmrun.exe receives.
fn vmrun_calls(bat: &str) -> Vec<Vec<String>> {
    bat.split("\r\n")
        .filter(|l| l.starts_with('"'))
        .map(cmd_command)
        .map(|c| crt_argv(&c))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn rendering_is_deterministic(c in case()) {
        let (spec, a) = load(&c);
        prop_assert_eq!(a, render(&spec).unwrap());
    }

    #[test]
    fn reg_files_parse_back_to_the_spec(c in case()) {
        let (spec, a) = load(&c);
        let env = parse_reg(&get(&a, "windows/dockvm-env.reg"));
        let key = r"HKEY_CURRENT_USER\Environment".to_owned();
        let compose = "COMPOSE_CONVERT_WINDOWS_PATHS".to_owned();
        let mut want = vec![(key.clone(), "DOCKER_HOST".to_owned(), Some(c.docker_host.clone()))];
        let mut gone = vec![(key.clone(), "DOCKER_HOST".to_owned(), None)];
        if spec.windows.compose_paths {
            want.push((key.clone(), compose.clone(), Some("1".to_owned())));
            gone.push((key, compose, None));
        }
        prop_assert_eq!(env, want);
        let remove = parse_reg(&get(&a, "windows/dockvm-env-remove.reg"));
        prop_assert_eq!(remove, gone);
    }

    #[test]
    fn bat_vmrun_arguments_parse_back_to_the_spec_paths(c in case()) {
        let (spec, a) = load(&c);
        let vmrun = spec.vmware.vmrun.to_string();
        let vmx = spec.vm.vmx.to_string();
        let call = |rest: &[&str]| -> Vec<String> {
            let mut v = vec![vmrun.clone(), "-T".into(), "ws".into()];
            v.extend(rest.iter().map(|s| s.to_string()));
            v
        };
        prop_assert_eq!(vmrun_calls(&get(&a, "windows/start-vm.bat")), vec![
            call(&["start", &vmx, "nogui"]),
            call(&["getGuestIPAddress", &vmx, "-wait"]),
        ]);
        prop_assert_eq!(vmrun_calls(&get(&a, "windows/stop-vm.bat")), vec![call(&["stop", &vmx, "soft"])]);
        let mut want = vec![call(&["enableSharedFolders", &vmx])];
        for s in &spec.shares {
            let (n, p) = (s.name.to_string(), s.host_path.to_string());
            want.push(call(&["setSharedFolderState", &vmx, &n, &p, "writable"]));
            want.push(call(&["addSharedFolder", &vmx, &n, &p]));
        }
        prop_assert_eq!(vmrun_calls(&get(&a, "windows/reset-shared-folders.bat")), want);
    }

    #[test]
    fn the_ps1_folder_parses_back_to_docker_dir(c in case()) {
        let (spec, a) = load(&c);
        let ps1 = get(&a, "windows/add-docker-to-path.ps1");
        let line = ps1.split("\r\n").find(|l| l.starts_with("$dir = ")).unwrap();
        let lit = line.strip_prefix("$dir = '").unwrap();
        // PowerShell: inside '...', any of the four single quotes doubled is one of them.
        let quotes = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];
        let mut v = String::new();
        let mut chars = lit.chars().peekable();
        loop {
            let c = chars.next().expect("the literal is closed");
            if quotes.contains(&c) {
                if chars.peek().is_some_and(|n| quotes.contains(n)) {
                    v.push(chars.next().unwrap());
                    continue;
                }
                prop_assert_eq!(chars.next(), None, "nothing after the literal");
                break;
            }
            v.push(c);
        }
        prop_assert_eq!(v, spec.windows.docker_dir.to_string());
    }

    #[test]
    fn hosts_block_holds_exactly_the_mapping(c in case()) {
        let (spec, a) = load(&c);
        let hosts = get(&a, "windows/hosts.txt");
        let lines: Vec<&str> = hosts.trim_end().split("\r\n").collect();
        prop_assert_eq!(lines.len(), 3);
        prop_assert_eq!(lines[1], format!("{} {}", spec.vm.ip, spec.vm.hostname));
    }

    #[test]
    fn wsl_paths_map_back_to_the_windows_folders(c in case()) {
        let (spec, _) = load(&c);
        for s in &spec.shares {
            let wsl = spec.wsl_path(s);
            let rest = wsl.as_str().strip_prefix(spec.wsl.automount_root.as_str()).unwrap();
            let (drive, tail) = rest.split_at(1);
            let back = format!("{}:\\{}", drive.to_uppercase(), tail.trim_start_matches('/').replace('/', "\\"));
            let host = s.host_path.as_str();
            // The drive letter's case is lost (WSL lower-cases it); every name keeps its own.
            prop_assert!(back[..1].eq_ignore_ascii_case(&host[..1]) && back[1..] == host[1..], "{} -> {} -> {}", host, wsl, back);
        }
    }

    #[test]
    fn no_value_escapes_its_field(c in case()) {
        let (spec, a) = load(&c);
        // The same automount root: with `/`, compose's path is the WSL path (one link, not two).
        let reference = plain(c.shares, spec.wsl.automount_root.as_str());
        for (got, want) in a.iter().zip(&reference) {
            if got.path.file_name() == Some("meta.json") {
                // The docker context: its folder is the SHA-256 of its name, and its JSON (from
                // serde_json's string encoder) parses back to the name and DOCKER_HOST.
                prop_assert!(got.path.as_str().contains(&dockvm_spec::context::id(spec.vm.name.as_str())));
                let v: serde_json::Value = serde_json::from_slice(&got.bytes).unwrap();
                prop_assert_eq!(v["Name"].as_str().map(str::to_owned), Some(format!("dockvm-{}", spec.vm.name)));
                prop_assert_eq!(v["Endpoints"]["docker"]["Host"].as_str().map(str::to_owned), Some(c.docker_host.clone()));
                continue;
            }
            prop_assert_eq!(&got.path, &want.path);
            if got.path == "manifest.json" {
                // JSON from serde_json: values are encoded by construction; check it parses.
                prop_assert!(serde_json::from_slice::<serde_json::Value>(&got.bytes).is_ok());
                continue;
            }
            let (g, w) = (decode(got), decode(want));
            let gl: Vec<String> = g.lines().map(shape).collect();
            let wl: Vec<String> = w.lines().map(shape).collect();
            prop_assert_eq!(gl, wl, "{}:\n{}", got.path, g);
        }
    }
}

proptest! {
    // These run a real consumer per case: fewer cases, each one a process or two.
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn tmpfiles_links_come_back_from_systemd_tmpfiles(c in case()) {
        if !require(have("systemd-tmpfiles"), "needs systemd-tmpfiles (systemd)") {
            return Ok(());
        }
        let (_, a) = load(&c);
        let dir = tempfile::tempdir().unwrap();
        let d = utf8_dir(&dir);
        fs::write(d.join("dockvm.conf"), get(&a, "vm/etc/tmpfiles.d/dockvm.conf")).unwrap();
        fs::create_dir(d.join("root")).unwrap();
        let out = run(Command::new("systemd-tmpfiles").arg("--create").arg(format!("--root={d}/root")).arg(d.join("dockvm.conf")));
        prop_assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        // Every link systemd-tmpfiles made, with its target: exactly the model's (each share's
        // WSL path and, compose_paths being the default, compose's form of its folder).
        let root = d.join("root");
        let mut found = Vec::new();
        for e in walkdir::WalkDir::new(&root) {
            let e = e.unwrap();
            if e.path_is_symlink() {
                let at = format!("/{}", e.path().strip_prefix(&root).unwrap().display());
                found.push((at, fs::read_link(e.path()).unwrap().display().to_string()));
            }
        }
        found.sort();
        prop_assert_eq!(found, c.links.clone());
    }

    #[test]
    fn dash_gets_docker_host_from_the_profile(c in case()) {
        if !require(have("dash"), "needs dash") {
            return Ok(());
        }
        let (_, a) = load(&c);
        let dir = tempfile::tempdir().unwrap();
        let p = utf8_dir(&dir).join("profile.sh");
        fs::write(&p, get(&a, "wsl/profile.sh")).unwrap();
        let out = run(Command::new("dash").args(["-c", r#". "$1"; printf %s "$DOCKER_HOST""#, "sh", p.as_str()]));
        prop_assert_eq!(String::from_utf8_lossy(&out.stdout), c.docker_host.as_str());
    }
}
