//! The instance's process id: a stable identity kept in the application's state directory, as
//! Kafka Streams' `kafka-streams-process-metadata` file. It distinguishes this instance's
//! clients (`client.id`, `transactional.id`) from other instances' and survives restarts.

use std::sync::atomic::{AtomicUsize, Ordering};

use streams_state::StateDirectory;

use crate::error::{Error, Result};

/// The file in the application's state directory that keeps its process id across restarts,
/// as Kafka Streams' `kafka-streams-process-metadata`.
const PROCESS_METADATA_FILE: &str = "kafka-streams-process-metadata";

/// This instance's process id: read from the state directory, or made up and stored there.
/// Being stable across restarts, it gives a restarted instance the same `transactional.id`s,
/// so that under exactly-once its producers fence (and abort) what a crashed run left open.
pub(crate) fn process_id(directory: &StateDirectory) -> Result<String> {
    let dir = directory.application_dir();
    let path = dir.join(PROCESS_METADATA_FILE);
    let io = |e: std::io::Error| {
        Error::from(streams_state::Error::InvalidArgument {
            store: path.display().to_string(),
            message: format!("cannot read or write the process metadata: {e}"),
        })
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let id = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("processId")?.as_str().map(str::to_string))
                .filter(|id| {
                    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            if let Some(id) = id {
                return Ok(id);
            }
            tracing::warn!(path = %path.display(), "unreadable process metadata; making a new process id");
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    static INSTANCES: AtomicUsize = AtomicUsize::new(0);
    let seed = format!(
        "{}-{:?}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now(),
        INSTANCES.fetch_add(1, Ordering::SeqCst),
        dir.display()
    );
    // Not a UUID library's v4, but as unique as this machine needs: two FNV-1a halves.
    let fnv = |salt: u64| {
        seed.bytes().fold(0xcbf2_9ce4_8422_2325_u64 ^ salt, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    let id = format!("{:016x}-{:016x}", fnv(0), fnv(0x9e37_79b9_7f4a_7c15));
    std::fs::create_dir_all(&dir).map_err(io)?;
    std::fs::write(&path, serde_json::json!({ "processId": id }).to_string()).map_err(io)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_id_survives_restarts_of_one_state_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDirectory::new(tmp.path(), "app");
        let first = process_id(&dir).unwrap();
        assert_eq!(process_id(&dir).unwrap(), first);
        let other = StateDirectory::new(tmp.path(), "other-app");
        assert_ne!(process_id(&other).unwrap(), first);
        std::fs::write(dir.application_dir().join(PROCESS_METADATA_FILE), "garbage").unwrap();
        let replaced = process_id(&dir).unwrap();
        assert_ne!(replaced, first);
        assert_eq!(process_id(&dir).unwrap(), replaced);
    }
}
