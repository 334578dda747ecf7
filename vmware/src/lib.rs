//! dockvm-vmware: VMware Workstation's `vmrun`, in one place. Where this process reaches it
//! (the spec's path on Windows; the same path under the automount root from WSL, through
//! interop), each call with a deadline (vmrun talks to the VMware service first, and is known
//! to be slow and to hang), and what it prints: its errors come on standard output as
//! `Error: ...` with exit status 255, and its text may be in the Windows ANSI code page (GBK
//! on a Chinese Windows, Shift_JIS on a Japanese one), not UTF-8.
//!
//! Nothing else in dockvm builds a vmrun argument list.

pub mod address;
mod decode;
pub mod dhcp;
mod run;
pub mod vmx;

pub use decode::{decode, same_path};

use camino::{Utf8Path, Utf8PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// vmrun as this process reaches it.
#[derive(Debug, Clone)]
pub struct Vmrun {
    path: Utf8PathBuf,
    /// Set by another thread when the answer is no longer wanted: a running call is killed at
    /// once and gives [`VmrunError::Cancelled`].
    cancel: Option<Arc<AtomicBool>>,
}

/// What went wrong with a vmrun call.
#[derive(Debug, thiserror::Error)]
pub enum VmrunError {
    #[error("vmrun not found at {0}")]
    NotFound(Utf8PathBuf),
    #[error("cannot start {0}: {1}")]
    Start(String, std::io::Error),
    #[error("{what} did not answer within {}", human(*.after))]
    Timeout { what: String, after: Duration },
    /// vmrun ran and refused: its exit status and the message it printed (its `Error: `
    /// prefix taken off), as in "The virtual machine is not powered on".
    #[error("{what} failed ({status}): {message}")]
    Failed {
        what: String,
        status: String,
        message: String,
        /// Its first line of output as printed (standard output, then error).
        first_line: String,
    },
    #[error("cannot read the output of {0}: {1}")]
    Io(String, std::io::Error),
    /// The caller no longer wanted the answer ([`Vmrun::cancelled_by`]); vmrun was killed.
    #[error("{0} was not needed any more and was stopped")]
    Cancelled(String),
}

impl VmrunError {
    /// What a refused `start` means, when vmrun's words say it: the .vmx held by the VMware
    /// window, a VMware that cannot be driven with `-T ws` (Player), or vmrun not there.
    pub fn start_refusal(&self) -> Option<StartRefusal> {
        match self {
            VmrunError::NotFound(_) => Some(StartRefusal::NoVmrun),
            VmrunError::Failed { message, .. } => {
                let m = message.to_ascii_lowercase();
                if m.contains("in use") || m.contains("locked") {
                    Some(StartRefusal::InUse)
                } else if m.contains("player")
                    || m.contains("not supported")
                    || m.contains("unable to connect to host")
                {
                    Some(StartRefusal::PlayerOnly)
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

/// Why `vmrun start` refused, in the cases users meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartRefusal {
    /// The VMware Workstation window has the VM open (its .vmx is locked).
    InUse,
    /// `-T ws` needs VMware Workstation Pro; VMware Player cannot be driven by it.
    PlayerOnly,
    /// No vmrun where the spec says.
    NoVmrun,
}

impl StartRefusal {
    /// The sentence a user reads, with what to do.
    pub fn explain(self, vmx: &str) -> String {
        match self {
            StartRefusal::InUse => format!(
                "{vmx} is in use by the VMware Workstation window: power it on there, or close its tab and run dockvm up again"
            ),
            StartRefusal::PlayerOnly => "vmrun -T ws drives VMware Workstation Pro only; with VMware Player, start the VM in Player (dockvm up then does the rest)".to_owned(),
            StartRefusal::NoVmrun => "vmrun is not where vmware.vmrun says: install VMware Workstation, or set vmware.vmrun in the spec to its vmrun.exe".to_owned(),
        }
    }
}

/// Which of a VM's variables `readVariable` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarKind {
    /// Set in the guest with `vmware-rpctool "info-set guestinfo.NAME ..."`.
    GuestVar,
    /// A .vmx entry of the running VM.
    RuntimeConfig,
    /// An environment variable of the guest.
    GuestEnv,
}

impl VarKind {
    fn word(self) -> &'static str {
        match self {
            VarKind::GuestVar => "guestVar",
            VarKind::RuntimeConfig => "runtimeConfig",
            VarKind::GuestEnv => "guestEnv",
        }
    }
}

impl Vmrun {
    /// vmrun at `path` as this process names it.
    pub fn at(path: impl Into<Utf8PathBuf>) -> Vmrun {
        Vmrun {
            path: path.into(),
            cancel: None,
        }
    }

    /// The same vmrun, whose calls stop (vmrun killed) as soon as `flag` is set.
    pub fn cancelled_by(mut self, flag: Arc<AtomicBool>) -> Vmrun {
        self.cancel = Some(flag);
        self
    }

    /// Where this process reaches the spec's vmrun: its Windows path in dockvm.exe, the same
    /// path under the automount root elsewhere (WSL reaches vmrun.exe through interop).
    pub fn for_spec(spec: &dockvm_spec::Spec) -> Vmrun {
        if cfg!(windows) {
            Vmrun::at(spec.vmware.vmrun.as_str())
        } else {
            Vmrun::at(spec.vmware.vmrun.wsl_path(&spec.wsl.automount_root))
        }
    }

    pub fn path(&self) -> &Utf8Path {
        &self.path
    }

    pub fn exists(&self) -> bool {
        self.path.is_file()
    }

    /// `vmrun -T ws list`: the .vmx paths of the running VMs, decoded.
    pub fn list(&self, deadline: Duration) -> Result<Vec<String>, VmrunError> {
        let text = self.call(&["list"], deadline, "")?;
        Ok(running_vmx(&text))
    }

    /// Whether `vmx` is among the running VMs (compared as Windows compares paths), and the
    /// list as vmrun gave it. The list is decoded with `vmx` as the hint, so a path in the
    /// ANSI code page still matches.
    pub fn is_running(
        &self,
        vmx: &str,
        deadline: Duration,
    ) -> Result<(bool, Vec<String>), VmrunError> {
        let text = self.call(&["list"], deadline, vmx)?;
        let running = running_vmx(&text);
        Ok((running.iter().any(|p| same_path(p, vmx)), running))
    }

    /// `getGuestIPAddress`: what VMware Tools report as the guest's address (`wait`: until
    /// they report one, within the deadline).
    pub fn guest_ip(
        &self,
        vmx: &str,
        wait: bool,
        deadline: Duration,
    ) -> Result<String, VmrunError> {
        let mut args = vec!["getGuestIPAddress", vmx];
        if wait {
            args.push("-wait");
        }
        Ok(self.call(&args, deadline, "")?.trim().to_owned())
    }

    /// `readVariable`: a guest variable (published with vmware-rpctool), a runtime .vmx entry,
    /// or a guest environment variable; empty when unset.
    pub fn read_variable(
        &self,
        vmx: &str,
        kind: VarKind,
        name: &str,
        deadline: Duration,
    ) -> Result<String, VmrunError> {
        Ok(self
            .call(&["readVariable", vmx, kind.word(), name], deadline, "")?
            .trim()
            .to_owned())
    }

    /// `start <vmx> nogui`: powers the VM on, headless.
    pub fn start(&self, vmx: &str, deadline: Duration) -> Result<(), VmrunError> {
        self.call(&["start", vmx, "nogui"], deadline, "").map(drop)
    }

    /// `stop <vmx> soft|hard`: a shutdown through the guest, or power off.
    pub fn stop(&self, vmx: &str, hard: bool, deadline: Duration) -> Result<(), VmrunError> {
        let how = if hard { "hard" } else { "soft" };
        self.call(&["stop", vmx, how], deadline, "").map(drop)
    }

    /// `enableSharedFolders`: shares on again (VMware keeps them off after a power-on when
    /// they were enabled only "until next power off").
    pub fn enable_shared_folders(&self, vmx: &str, deadline: Duration) -> Result<(), VmrunError> {
        self.call(&["enableSharedFolders", vmx], deadline, "")
            .map(drop)
    }

    /// `setSharedFolderState <vmx> NAME HOSTPATH writable`: points an existing share at its
    /// folder; refused when the VM has no share of that name.
    pub fn set_shared_folder(
        &self,
        vmx: &str,
        name: &str,
        host_path: &str,
        deadline: Duration,
    ) -> Result<(), VmrunError> {
        self.call(
            &["setSharedFolderState", vmx, name, host_path, "writable"],
            deadline,
            "",
        )
        .map(drop)
    }

    /// `addSharedFolder <vmx> NAME HOSTPATH`: a share the VM lacks.
    pub fn add_shared_folder(
        &self,
        vmx: &str,
        name: &str,
        host_path: &str,
        deadline: Duration,
    ) -> Result<(), VmrunError> {
        self.call(&["addSharedFolder", vmx, name, host_path], deadline, "")
            .map(drop)
    }

    /// `disableSharedFolders`.
    pub fn disable_shared_folders(&self, vmx: &str, deadline: Duration) -> Result<(), VmrunError> {
        self.call(&["disableSharedFolders", vmx], deadline, "")
            .map(drop)
    }

    /// Runs `vmrun -T ws ARGS` within `deadline`; its output decoded (`hint`: text it should
    /// contain, to pick the code page), or its refusal as [`VmrunError::Failed`].
    fn call(&self, args: &[&str], deadline: Duration, hint: &str) -> Result<String, VmrunError> {
        if !self.exists() {
            return Err(VmrunError::NotFound(self.path.clone()));
        }
        let mut all = vec!["-T", "ws"];
        if self
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst))
        {
            return Err(VmrunError::Cancelled(format!("vmrun {}", args.join(" "))));
        }
        all.extend_from_slice(args);
        let what = format!(
            "{} {}",
            self.path.file_name().unwrap_or(self.path.as_str()),
            all.join(" ")
        );
        let out = run::run(&self.path, &all, deadline, &what, self.cancel.as_deref())?;
        let stdout = decode(&out.stdout, hint);
        if out.status.success() {
            return Ok(stdout);
        }
        let stderr = decode(&out.stderr, "");
        Err(VmrunError::Failed {
            what,
            status: out.status.to_string(),
            message: message(&stdout, &stderr),
            first_line: first_line(&stdout, &stderr),
        })
    }
}

/// The .vmx paths in `vmrun list` output (after its `Total running VMs: N` line).
fn running_vmx(list: &str) -> Vec<String> {
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Total running VMs"))
        .map(str::to_owned)
        .collect()
}

/// What vmrun said when it refused: its first `Error: ` line without the prefix (it prints
/// errors on standard output), else its first line of any kind.
fn message(stdout: &str, stderr: &str) -> String {
    let lines = || stdout.lines().chain(stderr.lines()).map(str::trim);
    lines()
        .find_map(|l| l.strip_prefix("Error: "))
        .or_else(|| lines().find(|l| !l.is_empty()))
        .unwrap_or("nothing")
        .to_owned()
}

fn first_line(stdout: &str, stderr: &str) -> String {
    stdout
        .lines()
        .chain(stderr.lines())
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("nothing")
        .to_owned()
}

/// A duration as people write it: `2 s`, `1.5 s`, `300 ms`.
pub fn human(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.1} s", d.as_secs_f64()).replace(".0 s", " s")
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests;
