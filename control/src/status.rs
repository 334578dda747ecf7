//! `dockvm status`: what is true now, derived from verify's checks each time (never stored, so
//! never stale): the VM (running when its engine answers, without asking vmrun; else what
//! vmrun says), its address, the engine, the TLS server certificate's days left, the clock's
//! skew, and which endpoint docker in this terminal uses.

use dockvm_spec::Spec;
use dockvm_verify::checks::Env;
use dockvm_verify::cleanup::Registry;
use dockvm_verify::{CheckId, Finding, Options, Selection, Status as S};
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub schema_version: u32,
    pub vm: Vm,
    /// The VM's address: vm.ip when the engine answers there, else what vmrun reports.
    pub address: Option<String>,
    pub hostname: String,
    pub engine: Engine,
    /// Days left on the server certificate (TLS specs, when the handshake worked).
    pub tls_server_days_left: Option<i64>,
    /// The VM's clock minus this one, in seconds (when the engine answers).
    pub clock_skew_s: Option<f64>,
    pub endpoint: Endpoint,
    /// dockvm.exe with `windows.endpoint = "pipe"`: who serves Docker's named pipe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Proxy>,
    /// How the last `up` on this side ended (the sign-in start's included), when one ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_up: Option<crate::LastUp>,
    pub exit_code: u8,
}

#[derive(Debug, Clone, Serialize)]
pub struct Proxy {
    /// Whether this VM's proxy serves the pipe.
    pub running: bool,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Vm {
    /// running, stopped or unknown.
    pub state: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Engine {
    pub answers: bool,
    pub version: Option<String>,
    pub api_version: Option<String>,
    pub os: Option<String>,
    /// When it does not answer: the root cause.
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    /// What docker in this terminal uses: DOCKER_HOST, a context, or the default.
    pub uses: String,
    /// Whether that is this VM.
    pub this_vm: bool,
}

pub fn status(
    spec: &Spec,
    env: &Env,
    timeout: Duration,
    certs: Option<camino::Utf8PathBuf>,
    cleanup: &Registry,
) -> Status {
    let only = vec!["docker-api".to_owned(), "clock".to_owned()];
    let opts = Options {
        timeout,
        wait: None,
        selection: Selection {
            only,
            skip: Vec::new(),
        },
        certs,
        leftover_age: dockvm_verify::sweep::DEFAULT_AGE,
    };
    let o = dockvm_verify::run(spec, env, &opts, cleanup, &|_| {});
    let get = |id: CheckId| o.findings.iter().find(|f| f.id == id);
    let fact = |f: Option<&Finding>, k: &str| f.and_then(|f| f.facts.get(k)).cloned();
    let text = |v: Option<serde_json::Value>| v.and_then(|v| v.as_str().map(str::to_owned));
    let vm = get(CheckId::Vm);
    let api = get(CheckId::DockerApi);
    let answers = api.is_some_and(|f| matches!(f.status, S::Pass | S::Warn));
    let why_not = crate::root_cause(&o.findings)
        .map(|(why, _)| why)
        .unwrap_or_default();
    let (uses, this_vm) = dockvm_verify::checks::env::in_use(spec, env);
    Status {
        schema_version: 1,
        vm: Vm {
            state: text(fact(vm, "state")).unwrap_or_else(|| "unknown".into()),
            why: vm.map(|f| f.reason.clone()).unwrap_or_default(),
        },
        address: text(fact(vm, "address")),
        hostname: spec.vm.hostname.to_string(),
        engine: Engine {
            answers,
            version: text(fact(api, "engine_version")),
            api_version: text(fact(api, "api_version")),
            os: text(fact(api, "os")),
            why: if answers { String::new() } else { why_not },
        },
        tls_server_days_left: fact(get(CheckId::Tls), "server_days_left").and_then(|v| v.as_i64()),
        clock_skew_s: fact(get(CheckId::Clock), "skew_s").and_then(|v| v.as_f64()),
        endpoint: Endpoint { uses, this_vm },
        proxy: (env.windows.is_some()
            && spec.windows.endpoint == dockvm_spec::WindowsEndpoint::Pipe)
            .then(|| {
                let (running, why) = crate::proxy::describe(spec);
                Proxy { running, why }
            }),
        last_up: None,
        exit_code: u8::from(!answers),
    }
}

impl Status {
    /// The human form: one line a field.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let mut line = |k: &str, v: String| out.push_str(&format!("{k:<9} {v}\n"));
        line("vm", format!("{} ({})", self.vm.state, self.vm.why));
        line(
            "address",
            match &self.address {
                Some(a) => format!("{a} ({})", self.hostname),
                None => format!("unknown ({})", self.hostname),
            },
        );
        line(
            "engine",
            if self.engine.answers {
                format!(
                    "Docker Engine {}, API {}, {}",
                    self.engine.version.as_deref().unwrap_or("?"),
                    self.engine.api_version.as_deref().unwrap_or("?"),
                    self.engine.os.as_deref().unwrap_or("?")
                )
            } else {
                format!("not answering: {}", self.engine.why)
            },
        );
        if let Some(d) = self.tls_server_days_left {
            line("tls", format!("the server certificate has {d} days left"));
        }
        line(
            "clock",
            match self.clock_skew_s {
                Some(s) if s.abs() < 0.05 => "in step with this machine".to_owned(),
                Some(s) if s > 0.0 => format!("the VM is {s:.1} s ahead of this machine"),
                Some(s) => format!("the VM is {:.1} s behind this machine", -s),
                None => "unknown (the engine does not answer)".to_owned(),
            },
        );
        line(
            "endpoint",
            format!(
                "{}{}",
                self.endpoint.uses,
                if self.endpoint.this_vm {
                    " (this VM)"
                } else {
                    ""
                }
            ),
        );
        if let Some(p) = &self.proxy {
            line("proxy", p.why.clone());
        }
        if let Some(u) = &self.last_up {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            line("last up", u.line(now));
        }
        out
    }
}
