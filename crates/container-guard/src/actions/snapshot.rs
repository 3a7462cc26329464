//! `snapshot`: commits the container's file system to an image tagged with the alert id, so
//! what the attacker left can be examined after the container is gone.

use std::path::{Path, PathBuf};

use bollard::models::ContainerConfig;
use bollard::query_parameters::CommitContainerOptions;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use super::ActionContext;
use crate::docker::{Outcome, call};
use crate::error::GuardError;
use crate::inventory::ContainerInfo;

/// The image reference of the snapshot of `container` for `alert_id`:
/// `<repository>/<container name>:<alert id>`, lower-cased as image names must be.
pub fn image_name(repository: &str, container: &ContainerInfo, alert_id: &str) -> (String, String) {
    let name: String = container
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches(|c| c == '.' || c == '-' || c == '_');
    let name = if name.is_empty() {
        &container.id[..container.id.len().min(12)]
    } else {
        name
    };
    let tag: String = alert_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.' || *c == '-')
        .take(128)
        .collect();
    (format!("{}/{name}", repository.trim_end_matches('/')), tag)
}

/// Writes the file system of `container` as a tar to `dir`; returns the file. Each chunk must
/// arrive within the call timeout; a partial file is removed.
async fn export(
    ctx: &ActionContext,
    container: &ContainerInfo,
    dir: &Path,
    name: &str,
) -> Result<PathBuf, GuardError> {
    let failed = |message: String| GuardError::Docker {
        call: "export",
        target: container.id.clone(),
        message,
    };
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| failed(format!("creating {}: {e}", dir.display())))?;
    let path = dir.join(name);
    let partial = path.with_extension("tar.partial");
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(|e| failed(format!("creating {}: {e}", partial.display())))?;
    let mut stream = Box::pin(ctx.docker.export_container(&container.id));
    let result: Result<(), GuardError> = async {
        loop {
            let chunk = match tokio::time::timeout(ctx.timeout, stream.next()).await {
                Err(_) => {
                    return Err(GuardError::Timeout {
                        call: "export",
                        target: container.id.clone(),
                        secs: ctx.timeout.as_secs(),
                    });
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(failed(e.to_string())),
                Ok(Some(Ok(bytes))) => bytes,
            };
            file.write_all(&chunk)
                .await
                .map_err(|e| failed(format!("writing {}: {e}", partial.display())))?;
        }
        file.flush()
            .await
            .map_err(|e| failed(format!("writing {}: {e}", partial.display())))?;
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(|e| failed(format!("renaming {}: {e}", partial.display())))
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
    }
    result.map(|()| path)
}

/// Commits `container` to its snapshot image, and exports its file system to `export_dir`
/// when one is given.
pub async fn run(
    ctx: &ActionContext,
    container: &ContainerInfo,
    alert_id: &str,
    export_dir: Option<&Path>,
) -> Result<Value, GuardError> {
    let (repo, tag) = image_name(&ctx.snapshot_repository, container, alert_id);
    let options = CommitContainerOptions {
        container: Some(container.id.clone()),
        repo: Some(repo.clone()),
        tag: Some(tag.clone()),
        comment: Some(format!("ironpost forensic snapshot for alert {alert_id}")),
        // A paused container stays as it is; a running one is frozen for the commit only.
        pause: true,
        ..Default::default()
    };
    let image = format!("{repo}:{tag}");
    let mut details = match call(
        "commit",
        &container.id,
        ctx.timeout,
        ctx.docker
            .commit_container(options, ContainerConfig::default()),
    )
    .await?
    {
        Outcome::Done(id) => json!({ "image": image, "image_id": id.id }),
        Outcome::AlreadyDone(m) => json!({ "image": image, "already": m }),
    };
    if let Some(dir) = export_dir {
        let short = repo.rsplit('/').next().unwrap_or("container");
        let path = export(ctx, container, dir, &format!("{short}-{tag}.tar")).await?;
        details["export"] = json!(path);
    }
    Ok(details)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names_are_valid_image_references() {
        let mut c = ContainerInfo {
            id: "ab".repeat(32),
            name: "Web_Front.1".into(),
            image: String::new(),
            labels: Default::default(),
            state: String::new(),
            pid: 0,
            network_mode: String::new(),
            networks: vec![],
            cgroup_path: None,
            cgroup_id: None,
            started_at: None,
        };
        assert_eq!(
            image_name("ironpost-forensics/", &c, "0123abcd"),
            (
                "ironpost-forensics/web_front.1".to_owned(),
                "0123abcd".to_owned()
            )
        );
        c.name = "--".into();
        assert_eq!(image_name("r", &c, "x").0, "r/abababababab");
    }
}
