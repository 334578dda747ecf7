//! Each call against a small server on loopback that answers as told: what dockerd answers, a
//! Docker error body, silence, garbage. (Against the real dockerd: tests/engine.rs.)

use super::*;
use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

/// A server for one connection: it reads the request (sent back on the channel) and answers
/// `answer` (None: says nothing and holds the connection for 3 s).
fn server(answer: Option<&'static [u8]>) -> (Endpoint, mpsc::Receiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let ep = Endpoint::plain(l.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        c.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 65536];
        // The head, then as much body as Content-Length says.
        loop {
            match c.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => req.extend_from_slice(&buf[..n]),
            }
            let text = String::from_utf8_lossy(&req);
            if let Some(end) = text.find("\r\n\r\n") {
                let len = text
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .and_then(|n| n.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if req.len() >= end + 4 + len {
                    break;
                }
            }
        }
        let _ = tx.send(String::from_utf8_lossy(&req).into_owned());
        match answer {
            Some(a) => {
                let _ = c.write_all(a);
            }
            None => std::thread::sleep(Duration::from_secs(3)),
        }
    });
    (ep, rx)
}

fn soon() -> Instant {
    Instant::now() + Duration::from_millis(500)
}

const ERROR_409: &[u8] = b"HTTP/1.0 409 Conflict\r\nContent-Type: application/json\r\nContent-Length: 44\r\n\r\n{\"message\":\"You cannot remove a container\"}\n";
const GARBAGE: &[u8] = b"SSH-2.0-OpenSSH_9.2\r\n";

#[test]
fn ping_gives_the_answer_as_it_came_and_its_facts() {
    let (ep, rx) = server(Some(
        b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nOstype: linux\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\nContent-Length: 2\r\n\r\nOK",
    ));
    let r = ep.ping(soon()).unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, b"OK".as_slice()));
    assert!(rx.recv().unwrap().starts_with("GET /_ping HTTP/1.0\r\n"));
    assert_eq!(
        Facts::from_ping(&r),
        Some(Facts {
            version: "20.10.24+dfsg1".into(),
            api_version: "1.41".into(),
            os: "linux".into()
        })
    );
    // Any header missing or not Docker's: no facts (then /version is asked).
    for head in [
        "Server: nginx\r\nApi-Version: 1.41\r\nOstype: linux",
        "Api-Version: 1.41\r\nOstype: linux",
        "Server: Docker/27.3.1 (linux)\r\nApi-Version: 1.47",
    ] {
        let answer = format!("HTTP/1.0 200 OK\r\n{head}\r\nContent-Length: 2\r\n\r\nOK");
        let (ep, _) = server(Some(Box::leak(answer.into_bytes().into_boxed_slice())));
        assert_eq!(Facts::from_ping(&ep.ping(soon()).unwrap()), None, "{head}");
    }
    let (ep, _) = server(None);
    assert!(matches!(ep.ping(soon()), Err(HttpError::Silent(_))));
    let (ep, _) = server(Some(GARBAGE));
    assert!(matches!(ep.ping(soon()), Err(HttpError::NotHttp(_))));
}

#[test]
fn version_decodes_its_json_and_docker_s_errors() {
    let (ep, rx) = server(Some(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"Version\":\"27.3.1\",\"ApiVersion\":\"1.47\",\"Os\":\"linux\"}"));
    let f = ep.version(soon()).unwrap();
    assert_eq!(
        (f.version.as_str(), f.api_version.as_str(), f.os.as_str()),
        ("27.3.1", "1.47", "linux")
    );
    assert!(rx.recv().unwrap().starts_with("GET /version "));
    let (ep, _) = server(Some(
        b"HTTP/1.0 500 Internal Server Error\r\n\r\n{\"message\":\"boom\"}",
    ));
    match ep.version(soon()) {
        Err(EngineError::Status {
            status, message, ..
        }) => assert_eq!((status, message.as_str()), (500, "boom")),
        other => panic!("{other:?}"),
    }
    let (ep, _) = server(Some(b"HTTP/1.0 200 OK\r\n\r\n<html>"));
    assert_eq!(
        ep.version(soon()).unwrap_err().to_string(),
        "GET /version: not JSON: \"<html>\""
    );
    let (ep, _) = server(None);
    assert!(matches!(
        ep.version(soon()),
        Err(EngineError::Http(HttpError::Silent(_)))
    ));
    let (ep, _) = server(Some(GARBAGE));
    assert!(matches!(
        ep.version(soon()),
        Err(EngineError::Http(HttpError::NotHttp(_)))
    ));
}

#[test]
fn images_are_asked_for_imported_empty_and_removed() {
    let (ep, rx) = server(Some(b"HTTP/1.0 200 OK\r\n\r\n{}"));
    assert!(ep.image_exists("dockvm-probe:empty", soon()).unwrap());
    assert!(
        rx.recv()
            .unwrap()
            .starts_with("GET /images/dockvm-probe:empty/json ")
    );
    let (ep, _) = server(Some(
        b"HTTP/1.0 404 Not Found\r\n\r\n{\"message\":\"No such image\"}",
    ));
    assert!(!ep.image_exists("dockvm-probe:empty", soon()).unwrap());

    let (ep, rx) = server(Some(
        b"HTTP/1.0 200 OK\r\n\r\n{\"status\":\"sha256:abc\"}\r\n",
    ));
    ep.import_empty("dockvm-probe:empty", soon()).unwrap();
    let req = rx.recv().unwrap();
    assert!(
        req.starts_with("POST /images/create?fromSrc=-&repo=dockvm-probe&tag=empty "),
        "{req}"
    );
    assert!(req.contains("Content-Length: 1024\r\n"), "{req}");
    // An import error comes with 200, in the stream.
    let (ep, _) = server(Some(
        b"HTTP/1.0 200 OK\r\n\r\n{\"errorDetail\":{\"message\":\"no space\"}}",
    ));
    assert!(matches!(
        ep.import_empty("a:b", soon()),
        Err(EngineError::Status { status: 200, .. })
    ));

    let (ep, rx) = server(Some(b"HTTP/1.0 200 OK\r\n\r\n[]"));
    assert_eq!(
        ep.remove_image("dockvm-probe:empty", soon()).unwrap(),
        Removed::Removed
    );
    assert!(
        rx.recv()
            .unwrap()
            .starts_with("DELETE /images/dockvm-probe:empty ")
    );
    let (ep, _) = server(Some(ERROR_409));
    assert_eq!(
        ep.remove_image("x", soon()).unwrap_err().to_string(),
        "HTTP/1.0 409 Conflict You cannot remove a container"
    );
}

#[test]
fn a_probe_container_is_created_with_read_only_binds_and_a_refusal_keeps_docker_s_words() {
    let (ep, rx) = server(Some(b"HTTP/1.0 201 Created\r\n\r\n{\"Id\":\"abc\"}"));
    let mounts = [("/mnt/d/projects".to_owned(), "/probe")];
    let probe = ProbeContainer {
        image: "dockvm-probe:empty",
        label: ("dockvm.probe", "true"),
        mounts: &mounts,
    };
    ep.create_probe("dockvm-probe-x", &probe, soon()).unwrap();
    let req = rx.recv().unwrap();
    assert!(
        req.starts_with("POST /containers/create?name=dockvm-probe-x "),
        "{req}"
    );
    let body: serde_json::Value =
        serde_json::from_str(req.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["Image"], "dockvm-probe:empty");
    assert_eq!(body["Labels"]["dockvm.probe"], "true");
    assert_eq!(body["HostConfig"]["NetworkMode"], "none");
    assert_eq!(
        body["HostConfig"]["Mounts"][0],
        serde_json::json!({"Type": "bind", "Source": "/mnt/d/projects", "Target": "/probe", "ReadOnly": true})
    );
    let (ep, _) = server(Some(b"HTTP/1.0 400 Bad Request\r\n\r\n{\"message\":\"invalid mount config for type \\\"bind\\\": bind source path does not exist: /mnt/d/projects\"}"));
    match ep.create_probe("x", &probe, soon()) {
        Err(EngineError::Status {
            status: 400,
            message,
            ..
        }) => {
            assert!(
                message.ends_with("bind source path does not exist: /mnt/d/projects"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    let (ep, _) = server(None);
    assert!(matches!(
        ep.create_probe("x", &probe, soon()),
        Err(EngineError::Http(HttpError::Silent(_)))
    ));
}

#[test]
fn stat_reads_the_path_stat_header_or_says_the_path_is_not_there() {
    // {"name":"f","size":32}
    let (ep, rx) = server(Some(b"HTTP/1.0 200 OK\r\nX-Docker-Container-Path-Stat: eyJuYW1lIjoiZiIsInNpemUiOjMyfQ==\r\n\r\n"));
    assert_eq!(
        ep.stat("c", "/probe/f", soon()).unwrap(),
        Some(PathStat {
            name: "f".into(),
            size: 32
        })
    );
    assert!(
        rx.recv()
            .unwrap()
            .starts_with("HEAD /containers/c/archive?path=/probe/f ")
    );
    let (ep, _) = server(Some(b"HTTP/1.0 404 Not Found\r\n\r\n"));
    assert_eq!(ep.stat("c", "/probe/f", soon()).unwrap(), None);
    let (ep, _) = server(Some(b"HTTP/1.0 200 OK\r\n\r\n"));
    assert_eq!(
        ep.stat("c", "/p", soon()).unwrap_err().to_string(),
        "the daemon's stat is unreadable: no stat header"
    );
    let (ep, _) = server(Some(
        b"HTTP/1.0 500 Internal Server Error\r\n\r\n{\"message\":\"boom\"}",
    ));
    assert!(matches!(
        ep.stat("c", "/p", soon()),
        Err(EngineError::Status { status: 500, .. })
    ));
    let (ep, _) = server(None);
    assert!(matches!(
        ep.stat("c", "/p", soon()),
        Err(EngineError::Http(HttpError::Silent(_)))
    ));
    let (ep, _) = server(Some(GARBAGE));
    assert!(matches!(
        ep.stat("c", "/p", soon()),
        Err(EngineError::Http(HttpError::NotHttp(_)))
    ));
}

#[test]
fn remove_and_list_containers() {
    let (ep, rx) = server(Some(b"HTTP/1.0 204 No Content\r\n\r\n"));
    assert_eq!(
        ep.remove("dockvm-probe-x", soon()).unwrap(),
        Removed::Removed
    );
    assert!(
        rx.recv()
            .unwrap()
            .starts_with("DELETE /containers/dockvm-probe-x?force=1&v=1 ")
    );
    let (ep, _) = server(Some(
        b"HTTP/1.0 404 Not Found\r\n\r\n{\"message\":\"No such container\"}",
    ));
    assert_eq!(ep.remove("x", soon()).unwrap(), Removed::Missing);
    let (ep, _) = server(Some(ERROR_409));
    assert!(matches!(
        ep.remove("x", soon()),
        Err(EngineError::Status { status: 409, .. })
    ));

    let (ep, rx) = server(Some(b"HTTP/1.0 200 OK\r\nDate: Sat, 28 Nov 2026 12:10:00 GMT\r\n\r\n[{\"Names\":[\"/dockvm-probe-a\"],\"Labels\":{\"dockvm.probe\":\"kept\"},\"Created\":100},{\"Names\":[\"/b\"],\"Labels\":{},\"Created\":5}]"));
    let l = ep.list("dockvm.probe", soon()).unwrap();
    let req = rx.recv().unwrap();
    assert!(
        req.starts_with(
            "GET /containers/json?all=1&filters=%7B%22label%22%3A%5B%22dockvm.probe%22%5D%7D "
        ),
        "{req}"
    );
    assert_eq!(l.date.as_deref(), Some("Sat, 28 Nov 2026 12:10:00 GMT"));
    assert_eq!(l.containers.len(), 2);
    assert_eq!(
        (
            l.containers[0].name.as_str(),
            l.containers[0].label.as_deref(),
            l.containers[0].created
        ),
        ("dockvm-probe-a", Some("kept"), 100)
    );
    assert_eq!(l.containers[1].label, None);
    let (ep, _) = server(Some(b"HTTP/1.0 200 OK\r\n\r\n[{"));
    assert!(
        ep.list("l", soon())
            .unwrap_err()
            .to_string()
            .starts_with("the container list: ")
    );
    let (ep, _) = server(None);
    assert!(matches!(
        ep.list("l", soon()),
        Err(EngineError::Http(HttpError::Silent(_)))
    ));
    let (ep, _) = server(Some(GARBAGE));
    assert!(matches!(
        ep.list("l", soon()),
        Err(EngineError::Http(HttpError::NotHttp(_)))
    ));
}
