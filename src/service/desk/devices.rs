//! Customers' devices, and the reference rows (catalogue models, KB entries) that stored
//! results and devices point to.

use serde::Deserialize;

use super::tickets::check_length;
use super::Desk;
use crate::error::{Error, Result};
use crate::index::Generation;
use crate::store::limits;
use crate::store::{CatalogueModel, Device, KbEntryRow, NewDevice};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDevice {
    pub customer_id: i64,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub serial: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
}

impl Desk {
    /// Registers a customer's device; the model is read with the catalogue, so "c750dn"
    /// becomes "Lexmark C750".
    pub async fn create_device(&self, request: CreateDevice) -> Result<Device> {
        let trimmed = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let model = trimmed(request.model);
        let serial = trimmed(request.serial);
        let location = trimmed(request.location);
        if model.is_none() && serial.is_none() {
            return Err(Error::rejected(
                "model",
                "give the model, the serial number or both",
            ));
        }
        check_length("model", model.as_deref(), limits::MODEL_NAME)?;
        check_length("serial", serial.as_deref(), limits::SERIAL)?;
        check_length("location", location.as_deref(), limits::LOCATION)?;
        let model = model.map(|m| self.generation().extractor.extract(&m).model.unwrap_or(m));
        self.store()?
            .create_device(&NewDevice {
                customer_id: request.customer_id,
                model,
                serial,
                location,
            })
            .await
    }

    pub async fn devices(&self, customer_id: i64) -> Result<Vec<Device>> {
        let store = self.store()?;
        if store.customer(customer_id).await?.is_none() {
            return Err(Error::NotFound {
                what: "customer".into(),
                id: customer_id.to_string(),
            });
        }
        store.devices(customer_id).await
    }

    /// Writes the generation's catalogue models and KB entries to the database, so stored
    /// results and devices point to rows that exist.
    pub async fn sync_reference_rows(&self, generation: &Generation) -> Result<()> {
        let store = self.store()?;
        let models: Vec<CatalogueModel> = generation
            .catalogue
            .models()
            .iter()
            .map(|m| CatalogueModel {
                canonical: m.canonical(),
                manufacturer: m.manufacturer.clone(),
                name: m.name.clone(),
                series: Some(m.series.clone()).filter(|s| !s.is_empty()),
                kind: Some(m.kind.clone()).filter(|s| !s.is_empty()),
            })
            .collect();
        store.sync_catalogue(&models).await?;
        let entries: Vec<KbEntryRow> = generation
            .entries
            .iter()
            .map(|e| KbEntryRow {
                id: e.id.clone(),
                title: e.title.clone(),
                content_hash: generation
                    .manifest
                    .content_hashes
                    .get(&e.id)
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect();
        store.sync_kb_entries(&entries, &generation.name).await
    }
}
