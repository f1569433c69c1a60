//! `devicekb demo`: a small sample set — customers, their printers, and a few tickets run
//! through the real pipeline — so a fresh install has something to show, and the earlier
//! project's client scripts (which file a ticket for customer 1) run unchanged.
//!
//! It only ever loads into a store with no customer: demo rows never mix with real ones.

use serde::Deserialize;

use super::{load_embedder, Dirs};
use crate::error::{Error, Result};
use crate::service::desk::devices::CreateDevice;
use crate::service::desk::tickets::{CreateCustomer, CreateTicket};
use crate::service::Service;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    dirs: Dirs,
}

/// The sample set, compiled in: the product must not need any file beside the binary.
const SAMPLE: &str = include_str!("demo/sample.json");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sample {
    customers: Vec<SampleCustomer>,
    tickets: Vec<SampleTicket>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleCustomer {
    /// In the earlier project's field names, as its clients send them.
    customer: CreateCustomer,
    #[serde(default)]
    devices: Vec<SampleDevice>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleDevice {
    model: Option<String>,
    serial: Option<String>,
    location: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleTicket {
    /// 1-based position of the customer in `customers`.
    customer: usize,
    /// 1-based position of the device among that customer's.
    device: Option<usize>,
    channel: String,
    priority: Option<String>,
    subject: String,
    description: String,
}

/// Who the history rows name as having filed the sample tickets.
const ACTOR: &str = "demo";

pub async fn run(args: Args) -> Result<()> {
    let sample: Sample = serde_json::from_str(SAMPLE)
        .map_err(|e| Error::Internal(format!("the compiled-in sample set is invalid: {e}")))?;
    let config = args.dirs.config()?;
    let embedder = load_embedder(&config)?;
    let service = Service::start(config, embedder).await?;
    let desk = &service.desk;
    let existing = desk.customers(Some(1)).await?;
    if !existing.is_empty() {
        return Err(Error::Conflict(
            "the store already has customers; the demo set only loads into an empty store (use another --data or DATABASE_URL)".into(),
        ));
    }

    let mut customers = Vec::new();
    for entry in sample.customers {
        let customer = desk.create_customer(entry.customer).await?;
        let mut devices = Vec::new();
        for d in entry.devices {
            let device = desk
                .create_device(CreateDevice {
                    customer_id: customer.id,
                    model: d.model,
                    serial: d.serial,
                    location: d.location,
                })
                .await?;
            devices.push(device.id);
        }
        println!(
            "customer {:>3}  {} ({} device(s))",
            customer.id,
            customer.company.as_deref().unwrap_or(&customer.name),
            devices.len()
        );
        customers.push((customer.id, devices));
    }

    // Trained first, as `serve` does at start: the sample tickets are classified as they
    // are answered rather than after.
    service.engine.classifier().await?;
    for t in sample.tickets {
        // The sample numbers customers and devices from 1.
        let (customer_id, devices) = t
            .customer
            .checked_sub(1)
            .and_then(|i| customers.get(i))
            .ok_or_else(|| Error::Internal(format!("sample ticket for customer {}", t.customer)))?;
        let device_id = t
            .device
            .map(|d| {
                d.checked_sub(1)
                    .and_then(|i| devices.get(i))
                    .copied()
                    .ok_or_else(|| Error::Internal(format!("sample ticket for device {d}")))
            })
            .transpose()?;
        let created = desk
            .create_ticket(
                CreateTicket {
                    customer_id: *customer_id,
                    device_id,
                    subject: t.subject.clone(),
                    description: t.description,
                    priority: t.priority,
                    channel: Some(t.channel),
                },
                None,
                ACTOR,
            )
            .await?;
        println!(
            "ticket   {:>3}  {} -> {}{}",
            created.ticket_id,
            t.subject,
            created.status.as_str(),
            created
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
    }
    // Pipelines run detached from their caller; let the last ones write their records.
    desk.wait_for_pipelines(tokio::time::Instant::now() + std::time::Duration::from_secs(30))
        .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_set_reads_and_its_tickets_point_at_its_customers() {
        let sample: Sample = serde_json::from_str(SAMPLE).unwrap();
        assert!(sample.customers.len() >= 3 && sample.tickets.len() >= 3);
        for t in &sample.tickets {
            crate::store::Channel::parse(&t.channel).unwrap();
            if let Some(p) = &t.priority {
                crate::store::Priority::parse(p).unwrap();
            }
            let customer = &sample.customers[t.customer - 1];
            if let Some(d) = t.device {
                assert!(d >= 1 && d <= customer.devices.len(), "{t:?}");
            }
        }
    }
}
