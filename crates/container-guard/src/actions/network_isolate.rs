//! `network_isolate`: disconnects the container from all (or the named) networks, saving for
//! each what a release needs to attach it again: the network, the user's aliases and any
//! address fixed at creation.

use bollard::models::{
    EndpointIpamConfig, EndpointSettings, NetworkConnectRequest, NetworkDisconnectRequest,
};
use serde_json::{Value, json};

use super::ActionContext;
use crate::docker::{Outcome, call};
use crate::error::GuardError;
use crate::inventory::{self, ContainerInfo, NetworkAttachment};

/// Disconnects `container` from `only` (empty: every network); details hold the saved networks.
pub async fn run(
    ctx: &ActionContext,
    container: &ContainerInfo,
    only: &[String],
) -> Result<Value, GuardError> {
    // Inspect again: the plan may have waited for approval, and what is saved must be exact.
    let current =
        match tokio::time::timeout(ctx.timeout, inventory::inspect(&ctx.docker, &container.id))
            .await
        {
            Ok(r) => r?,
            Err(_) => {
                return Err(GuardError::Timeout {
                    call: "inspect",
                    target: container.id.clone(),
                    secs: ctx.timeout.as_secs(),
                });
            }
        }
        .ok_or_else(|| GuardError::UnknownContainer(container.id.clone()))?;
    if current.network_mode == "host" || current.network_mode.starts_with("container:") {
        return Err(GuardError::Docker {
            call: "network disconnect",
            target: container.id.clone(),
            message: format!(
                "network mode `{}` shares another namespace and cannot be disconnected; use pause or stop",
                current.network_mode
            ),
        });
    }
    let targets: Vec<NetworkAttachment> = current
        .networks
        .iter()
        .filter(|n| only.is_empty() || only.iter().any(|o| *o == n.name || *o == n.network_id))
        .cloned()
        .collect();
    let mut saved = Vec::new();
    for net in targets {
        let request = NetworkDisconnectRequest {
            container: current.id.clone(),
            force: Some(true),
        };
        let network = if net.network_id.is_empty() {
            &net.name
        } else {
            &net.network_id
        };
        match call(
            "network disconnect",
            &format!("{} from {}", current.id, net.name),
            ctx.timeout,
            ctx.docker.disconnect_network(network, request),
        )
        .await
        {
            Ok(Outcome::Done(())) | Ok(Outcome::AlreadyDone(_)) => saved.push(net),
            Err(e) => {
                // Whatever was disconnected already is saved with the error, so a release can
                // still reconnect it.
                return Err(GuardError::Docker {
                    call: "network disconnect",
                    target: current.id.clone(),
                    message: format!(
                        "{e}; disconnected before the failure: {}",
                        serde_json::to_string(&saved).unwrap_or_default()
                    ),
                });
            }
        }
    }
    Ok(json!({ "networks": saved }))
}

/// Attaches `container_id` again to every network saved in an isolate record's `details`.
pub async fn reconnect(
    ctx: &ActionContext,
    container_id: &str,
    details: &Value,
) -> Result<Value, GuardError> {
    let saved: Vec<NetworkAttachment> = details
        .get("networks")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| {
            GuardError::Log(format!(
                "saved networks of {container_id} are unreadable: {e}"
            ))
        })?
        .unwrap_or_default();
    let mut done = Vec::new();
    for net in saved {
        // The default bridge takes neither aliases nor fixed addresses.
        let user_defined = net.name != "bridge";
        let static_ip = net.static_ipv4.is_some() || net.static_ipv6.is_some();
        let endpoint = EndpointSettings {
            aliases: (user_defined && !net.aliases.is_empty()).then(|| net.aliases.clone()),
            ipam_config: (user_defined && static_ip).then(|| EndpointIpamConfig {
                ipv4_address: net.static_ipv4.clone(),
                ipv6_address: net.static_ipv6.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let request = NetworkConnectRequest {
            container: container_id.to_owned(),
            endpoint_config: Some(endpoint),
        };
        let network = if net.network_id.is_empty() {
            &net.name
        } else {
            &net.network_id
        };
        call(
            "network connect",
            &format!("{container_id} to {}", net.name),
            ctx.timeout,
            ctx.docker.connect_network(network, request),
        )
        .await?;
        done.push(net.name);
    }
    Ok(json!({ "reconnected": done }))
}
