//! Shell commands given as options (`password_script`, `notify_command`), run without their
//! text in any process's argv or environment.
//!
//! `/bin/sh -c TEXT` (what fence-agents' `os.popen` does) puts the text in the shell's
//! argv, which every local user reads in `ps`; the text may hold the password itself
//! (`echo hunter2`) or a webhook token. Here the shell runs as `/bin/sh /dev/fd/N`: it
//! reads the text as its script from a pipe it inherits at descriptor N, which the agent
//! writes and closes. The shell's own stdin stays free (the notify command reads its event
//! there). `$0` is `/dev/fd/N` instead of `sh`; otherwise the text runs as with `-c`.

use std::io::Write as _;
use std::os::fd::AsRawFd as _;

/// A shell command ready to be configured (stdio, environment) and spawned with
/// [`ShellScript::spawn`].
pub(crate) struct ShellScript {
    command: tokio::process::Command,
    text: Vec<u8>,
    reader: std::os::fd::OwnedFd,
    writer: std::fs::File,
}

impl ShellScript {
    /// Prepares `/bin/sh /dev/fd/N` for `text`.
    pub(crate) fn new(text: &str) -> std::io::Result<ShellScript> {
        // The read end must survive exec in the shell; the write end must not.
        let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        rustix::io::fcntl_setfd(&reader, rustix::io::FdFlags::empty())?;
        let writer = std::fs::File::from(writer);
        let mut command = tokio::process::Command::new("/bin/sh");
        command.arg(format!("/dev/fd/{}", reader.as_raw_fd()));
        let mut text = text.as_bytes().to_vec();
        text.push(b'\n');
        Ok(ShellScript {
            command,
            text,
            reader,
            writer,
        })
    }

    /// The command, to set its stdio, environment, process group.
    pub(crate) fn command(&mut self) -> &mut tokio::process::Command {
        &mut self.command
    }

    /// Starts the shell and hands it the text. The agent's copy of the read end is closed
    /// at once, so no later child inherits it; the text is written from a thread (a text
    /// larger than the pipe's buffer waits for the shell to read it) and the write end is
    /// closed after it.
    pub(crate) fn spawn(mut self) -> std::io::Result<tokio::process::Child> {
        let child = self.command.spawn();
        drop(self.reader);
        let child = child?;
        let (mut writer, text) = (self.writer, self.text);
        std::thread::spawn(move || {
            // A shell that exits without reading everything: EPIPE, nothing to do.
            let _ = writer.write_all(&text);
        });
        Ok(child)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_text_runs_and_is_in_no_argv() {
        let mut s = ShellScript::new("echo \"hello $1\"; echo second line").expect("pipe");
        let std_cmd = s.command().as_std();
        let argv: Vec<String> = std::iter::once(std_cmd.get_program())
            .chain(std_cmd.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(argv.len(), 2, "{argv:?}");
        assert!(argv[1].starts_with("/dev/fd/"), "{argv:?}");
        assert!(!argv.iter().any(|a| a.contains("echo")), "{argv:?}");
        s.command()
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped());
        let out = s
            .spawn()
            .expect("spawn")
            .wait_with_output()
            .await
            .expect("wait");
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "hello \nsecond line\n"
        );
    }

    #[tokio::test]
    async fn a_text_larger_than_a_pipe_buffer_runs_whole() {
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(&format!(": line {i}\n"));
        }
        text.push_str("echo done");
        let mut s = ShellScript::new(&text).expect("pipe");
        s.command().stdout(std::process::Stdio::piped());
        let out = s
            .spawn()
            .expect("spawn")
            .wait_with_output()
            .await
            .expect("wait");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "done\n");
    }
}
