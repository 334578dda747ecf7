//! The Engine API client (`dockvm-engine`) against a real dockerd (Debian's docker.io on
//! loopback): each typed call, its answers and Docker's own refusals as the daemon words them.
//! (The same calls against a server that answers as told: engine/src/tests.rs.)

mod support;

use dockvm_engine::{Endpoint, EngineError, ProbeContainer, Removed};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::*;

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

#[test]
fn every_call_against_a_real_dockerd() {
    if !require_root_and(&["/usr/sbin/dockerd"]) {
        return;
    }
    let (_dockerd, port) = loopback_dockerd(None);
    let api = Endpoint::plain(SocketAddr::from(([127, 0, 0, 1], port)));

    let ping = api.ping(soon()).unwrap();
    assert_eq!((ping.status, ping.body.as_slice()), (200, b"OK".as_slice()));
    let facts = dockvm_engine::Facts::from_ping(&ping).expect("dockerd's ping headers");
    let version = api.version(soon()).unwrap();
    assert_eq!(version, facts, "/_ping's headers say what /version says");
    assert_eq!(version.os, "linux");

    let image = "dockvm-engine-test:empty";
    assert!(!api.image_exists(image, soon()).unwrap());
    api.import_empty(image, soon()).unwrap();
    assert!(api.image_exists(image, soon()).unwrap());

    // A probe container on a folder of this machine (the daemon's own file system).
    let dir = tempfile::tempdir().unwrap();
    let folder = utf8_dir(&dir);
    std::fs::write(folder.join("probe"), "0123456789").unwrap();
    let mounts = [(folder.to_string(), "/probe")];
    let probe = ProbeContainer {
        image,
        label: ("dockvm.engine-test", "yes"),
        mounts: &mounts,
    };
    let name = format!("dockvm-engine-test-{port}");
    api.create_probe(&name, &probe, soon()).unwrap();
    let stat = api.stat(&name, "/probe/probe", soon()).unwrap().unwrap();
    assert_eq!((stat.name.as_str(), stat.size), ("probe", 10));
    assert_eq!(api.stat(&name, "/probe/absent", soon()).unwrap(), None);
    // The same name again: Docker's conflict, its message kept.
    match api.create_probe(&name, &probe, soon()) {
        Err(EngineError::Status {
            status: 409,
            message,
            ..
        }) => assert!(message.contains("is already in use"), "{message}"),
        other => panic!("{other:?}"),
    }
    // A bind source the daemon lacks: refused, never created empty.
    let missing = [("/nonexistent/dockvm".to_owned(), "/probe")];
    let gone = ProbeContainer {
        mounts: &missing,
        ..probe
    };
    match api.create_probe(&format!("{name}-2"), &gone, soon()) {
        Err(EngineError::Status { message, .. }) => assert!(
            message.contains("bind source path does not exist: /nonexistent/dockvm"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }

    let list = api.list("dockvm.engine-test", soon()).unwrap();
    assert!(list.date.is_some(), "the daemon's Date header");
    let names: Vec<_> = list.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, [name.as_str()]);
    assert_eq!(list.containers[0].label.as_deref(), Some("yes"));

    assert_eq!(api.remove(&name, soon()).unwrap(), Removed::Removed);
    assert_eq!(api.remove(&name, soon()).unwrap(), Removed::Missing);
    assert_eq!(api.remove_image(image, soon()).unwrap(), Removed::Removed);
    assert_eq!(api.remove_image(image, soon()).unwrap(), Removed::Missing);
}
