//! The conversation, devices, predictions, feedback and figures, for both SQL stores; the
//! same macro pattern as `sql.rs`, with the same dialect fragments.

macro_rules! sql_store_more {
    (
        $store:ident, $db:ty, backend = $backend:literal,
        ts = $ts:literal, day = $day:literal, now = $now:literal, begin = $begin:literal,
        upsert_metrics = $upsert_metrics:literal,
        last_id = |$res:ident| $last_id:expr
    ) => {
        impl $store {
            fn message_columns() -> String {
                format!(
                    "id, ticket_id, customer_id, direction, channel, subject, body, transcription, \
                     CAST(processed AS SIGNED) AS processed, {} AS created_at",
                    format!($ts, c = "created_at")
                )
            }

            fn message_row(row: &<$db as sqlx::Database>::Row) -> Result<Message> {
                let get = |e: sqlx::Error| db_error("reading a message", e);
                let direction: String = row.try_get("direction").map_err(get)?;
                let channel: String = row.try_get("channel").map_err(get)?;
                let processed: i64 = row.try_get("processed").map_err(get)?;
                Ok(Message {
                    id: row.try_get("id").map_err(get)?,
                    ticket_id: row.try_get("ticket_id").map_err(get)?,
                    customer_id: row.try_get("customer_id").map_err(get)?,
                    direction: parse_enum(&direction, Direction::parse)?,
                    channel: parse_enum(&channel, Channel::parse)?,
                    subject: row.try_get("subject").map_err(get)?,
                    body: row.try_get("body").map_err(get)?,
                    transcription: row.try_get("transcription").map_err(get)?,
                    processed: processed != 0,
                    attachments: Vec::new(),
                    created_at: row.try_get("created_at").map_err(get)?,
                })
            }

            /// Inserts a message row (not its attachments); the driver's error is returned
            /// as is, so a caller can tell an idempotency-key race from a failure.
            async fn insert_message_row<'c, E>(executor: E, m: &NewMessage) -> std::result::Result<i64, sqlx::Error>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                let $res = sqlx::query(
                    "INSERT INTO messages (ticket_id, customer_id, direction, channel, subject, body, transcription, processed, idempotency_key) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(m.ticket_id)
                .bind(m.customer_id)
                .bind(m.direction.as_str())
                .bind(m.channel.as_str())
                .bind(&m.subject)
                .bind(&m.body)
                .bind(&m.transcription)
                .bind(i64::from(m.processed))
                .bind(&m.idempotency_key)
                .execute(executor)
                .await?;
                Ok($last_id)
            }

            /// Reads the attachments of `messages` (one query, every id bound).
            async fn with_attachments<'c, E>(executor: E, mut messages: Vec<Message>) -> Result<Vec<Message>>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                if messages.is_empty() {
                    return Ok(messages);
                }
                let placeholders = vec!["?"; messages.len()].join(", ");
                let sql = format!(
                    "SELECT id, message_id, filename, content_type, size_bytes, sha256 FROM attachments \
                     WHERE message_id IN ({placeholders}) ORDER BY id"
                );
                let mut query = sqlx::query(&sql);
                for m in &messages {
                    query = query.bind(m.id);
                }
                let get = |e: sqlx::Error| db_error("reading attachments", e);
                let rows = query.fetch_all(executor).await.map_err(get)?;
                for row in rows {
                    let message_id: i64 = row.try_get("message_id").map_err(get)?;
                    let attachment = Attachment {
                        id: row.try_get("id").map_err(get)?,
                        meta: NewAttachment {
                            filename: row.try_get("filename").map_err(get)?,
                            content_type: row.try_get("content_type").map_err(get)?,
                            size_bytes: row.try_get("size_bytes").map_err(get)?,
                            sha256: row.try_get("sha256").map_err(get)?,
                        },
                    };
                    if let Some(m) = messages.iter_mut().find(|m| m.id == message_id) {
                        m.attachments.push(attachment);
                    }
                }
                Ok(messages)
            }

            fn device_select() -> String {
                format!(
                    "SELECT d.id, d.customer_id, COALESCE(m.canonical, d.model_name) AS model, m.manufacturer, \
                     d.serial, d.location, {} AS created_at FROM devices d LEFT JOIN printer_models m ON m.id = d.model_id",
                    format!($ts, c = "d.created_at")
                )
            }

            fn device_row(row: &<$db as sqlx::Database>::Row) -> Result<Device> {
                let get = |e: sqlx::Error| db_error("reading a device", e);
                Ok(Device {
                    id: row.try_get("id").map_err(get)?,
                    customer_id: row.try_get("customer_id").map_err(get)?,
                    model: row.try_get("model").map_err(get)?,
                    manufacturer: row.try_get("manufacturer").map_err(get)?,
                    serial: row.try_get("serial").map_err(get)?,
                    location: row.try_get("location").map_err(get)?,
                    created_at: row.try_get("created_at").map_err(get)?,
                })
            }

            async fn counts(&self, expression: &str) -> Result<Vec<Count>> {
                let sql = format!(
                    "SELECT value, COUNT(*) AS n FROM (SELECT {expression} AS value FROM tickets t \
                     LEFT JOIN devices d ON d.id = t.device_id LEFT JOIN printer_models m ON m.id = d.model_id) grouped \
                     GROUP BY value ORDER BY n DESC, value"
                );
                let get = |e: sqlx::Error| db_error("counting tickets", e);
                let rows = sqlx::query(&sql).fetch_all(&self.pool).await.map_err(get)?;
                rows.iter()
                    .map(|row| {
                        Ok(Count {
                            value: row.try_get("value").map_err(get)?,
                            count: row.try_get("n").map_err(get)?,
                        })
                    })
                    .collect()
            }
        }

        #[async_trait]
        impl ConversationStore for $store {
            async fn add_message(&self, m: &NewMessage) -> Result<(Message, bool)> {
                let mut tx = self.pool.begin_with($begin).await.map_err(|e| db_error("starting a transaction", e))?;
                if let Some(key) = &m.idempotency_key {
                    let sql = format!("SELECT {} FROM messages WHERE idempotency_key = ?", Self::message_columns());
                    let existing = sqlx::query(&sql)
                        .bind(key)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(|e| db_error("checking the idempotency key", e))?;
                    if let Some(row) = existing {
                        let message = Self::message_row(&row)?;
                        let mut found = Self::with_attachments(&mut *tx, vec![message]).await?;
                        return Ok((found.remove(0), false));
                    }
                }
                let inserted = Self::insert_message_row(&mut *tx, m).await;
                let id = match inserted {
                    Ok(id) => id,
                    // Another request with the same key won the race: answer with its message.
                    Err(sqlx::Error::Database(d)) if d.is_unique_violation() && m.idempotency_key.is_some() => {
                        drop(tx);
                        let key = m.idempotency_key.as_deref().unwrap_or_default();
                        let stored = self.message_by_key(key).await?.ok_or_else(|| {
                            Error::storage("an idempotent message vanished")
                        })?;
                        return Ok((stored, false));
                    }
                    Err(e) => return Err(db_error("storing a message", e)),
                };
                for a in &m.attachments {
                    sqlx::query(
                        "INSERT INTO attachments (message_id, filename, content_type, size_bytes, sha256) VALUES (?, ?, ?, ?, ?)",
                    )
                    .bind(id)
                    .bind(&a.filename)
                    .bind(&a.content_type)
                    .bind(a.size_bytes)
                    .bind(&a.sha256)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error("storing an attachment", e))?;
                }
                let sql = format!("SELECT {} FROM messages WHERE id = ?", Self::message_columns());
                let row = sqlx::query(&sql)
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| db_error("reading a message", e))?;
                let message = Self::message_row(&row)?;
                let mut stored = Self::with_attachments(&mut *tx, vec![message]).await?;
                tx.commit().await.map_err(|e| db_error("committing a message", e))?;
                Ok((stored.remove(0), true))
            }

            async fn message_by_key(&self, key: &str) -> Result<Option<Message>> {
                let sql = format!("SELECT {} FROM messages WHERE idempotency_key = ?", Self::message_columns());
                let row = sqlx::query(&sql)
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| db_error("reading a message", e))?;
                let message = row.as_ref().map(Self::message_row).transpose()?;
                match message {
                    Some(m) => Ok(Self::with_attachments(&self.pool, vec![m]).await?.pop()),
                    None => Ok(None),
                }
            }

            async fn messages(&self, ticket_id: i64) -> Result<Vec<Message>> {
                let sql = format!("SELECT {} FROM messages WHERE ticket_id = ? ORDER BY id", Self::message_columns());
                let rows = sqlx::query(&sql)
                    .bind(ticket_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("reading messages", e))?;
                let messages = rows.iter().map(Self::message_row).collect::<Result<Vec<_>>>()?;
                Self::with_attachments(&self.pool, messages).await
            }

            async fn unprocessed_messages(&self, limit: u32) -> Result<Vec<Message>> {
                let sql = format!(
                    "SELECT {} FROM unprocessed_messages ORDER BY created_at, id LIMIT ?",
                    Self::message_columns()
                );
                let rows = sqlx::query(&sql)
                    .bind(i64::from(limit.clamp(1, MAX_TICKETS)))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("listing unprocessed messages", e))?;
                let messages = rows.iter().map(Self::message_row).collect::<Result<Vec<_>>>()?;
                Self::with_attachments(&self.pool, messages).await
            }

            async fn mark_processed(&self, ticket_id: i64) -> Result<u64> {
                sqlx::query("UPDATE messages SET processed = 1 WHERE ticket_id = ? AND processed = 0")
                    .bind(ticket_id)
                    .execute(&self.pool)
                    .await
                    .map(|r| r.rows_affected())
                    .map_err(|e| db_error("marking messages processed", e))
            }

            async fn mark_message_processed(&self, message_id: i64) -> Result<()> {
                sqlx::query("UPDATE messages SET processed = 1 WHERE id = ?")
                    .bind(message_id)
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(|e| db_error("marking a message processed", e))
            }

            async fn record_agent_reply(
                &self,
                ticket_id: i64,
                r: &ResponseRecord,
                m: &NewMessage,
                status: Status,
                actor: &str,
            ) -> Result<Ticket> {
                let mut tx = self.pool.begin_with($begin).await.map_err(|e| db_error("starting a transaction", e))?;
                // The status first: it answers 404 for a missing ticket before any insert.
                let ticket = Self::change_status_in(&mut tx, ticket_id, status, None, actor, Some("agent reply")).await?;
                Self::insert_response(&mut *tx, ticket_id, r).await?;
                Self::insert_message_row(&mut *tx, &NewMessage { ticket_id, processed: true, ..m.clone() })
                    .await
                    .map_err(|e| db_error("storing the reply message", e))?;
                sqlx::query("UPDATE messages SET processed = 1 WHERE ticket_id = ? AND processed = 0")
                    .bind(ticket_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error("marking messages processed", e))?;
                tx.commit().await.map_err(|e| db_error("committing a reply", e))?;
                Ok(ticket)
            }

            async fn open_tickets(&self, customer_id: i64, limit: u32) -> Result<Vec<Ticket>> {
                let sql = format!(
                    "SELECT {} FROM tickets WHERE customer_id = ? AND status <> 'closed' ORDER BY id DESC LIMIT ?",
                    Self::ticket_columns()
                );
                let rows = sqlx::query(&sql)
                    .bind(customer_id)
                    .bind(i64::from(limit.clamp(1, MAX_TICKETS)))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("listing open tickets", e))?;
                rows.iter().map(Self::ticket_row).collect()
            }

            async fn add_prediction(&self, ticket_id: i64, p: &PredictionRecord) -> Result<i64> {
                let $res = sqlx::query(
                    "INSERT INTO predictions (ticket_id, task, label, confidence, score, model, version) VALUES (?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(ticket_id)
                .bind(&p.task)
                .bind(&p.label)
                .bind(p.confidence.clamp(0.0, 1.0))
                .bind(p.score)
                .bind(&p.model)
                .bind(&p.version)
                .execute(&self.pool)
                .await
                .map_err(|e| db_error("recording a prediction", e))?;
                Ok($last_id)
            }

            async fn predictions(&self, ticket_id: i64) -> Result<Vec<Stored<PredictionRecord>>> {
                let sql = format!(
                    "SELECT id, task, label, confidence, score, model, version, {} AS created_at FROM predictions \
                     WHERE ticket_id = ? ORDER BY id",
                    format!($ts, c = "created_at")
                );
                let get = |e: sqlx::Error| db_error("reading predictions", e);
                let rows = sqlx::query(&sql).bind(ticket_id).fetch_all(&self.pool).await.map_err(get)?;
                rows.iter()
                    .map(|row| {
                        Ok(Stored {
                            id: row.try_get("id").map_err(get)?,
                            record: PredictionRecord {
                                task: row.try_get("task").map_err(get)?,
                                label: row.try_get("label").map_err(get)?,
                                confidence: row.try_get("confidence").map_err(get)?,
                                score: row.try_get("score").map_err(get)?,
                                model: row.try_get("model").map_err(get)?,
                                version: row.try_get("version").map_err(get)?,
                            },
                            created_at: row.try_get("created_at").map_err(get)?,
                        })
                    })
                    .collect()
            }

            async fn classify_ticket(
                &self,
                id: i64,
                category: Option<&str>,
                priority: Option<Priority>,
                retention_flag: bool,
                device_id: Option<i64>,
            ) -> Result<()> {
                let sql = format!(
                    "UPDATE tickets SET category = COALESCE(?, category), priority = COALESCE(?, priority), \
                     retention_flag = ?, device_id = COALESCE(device_id, ?), updated_at = {} WHERE id = ?",
                    $now
                );
                sqlx::query(&sql)
                    .bind(category)
                    .bind(priority.map(Priority::as_str))
                    .bind(i64::from(retention_flag))
                    .bind(device_id)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(|e| db_error("classifying a ticket", e))
            }

            async fn set_feedback(&self, ticket_id: i64, helpful: bool, comment: Option<&str>) -> Result<Option<i64>> {
                let mut tx = self.pool.begin_with($begin).await.map_err(|e| db_error("starting a transaction", e))?;
                let id: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM responses WHERE ticket_id = ? AND responder = 'auto' AND send_status <> 'draft' \
                     ORDER BY id DESC LIMIT 1",
                )
                .bind(ticket_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| db_error("finding the automatic reply", e))?;
                let Some(id) = id else {
                    return Ok(None);
                };
                sqlx::query("UPDATE responses SET helpful = ?, feedback_comment = ? WHERE id = ?")
                    .bind(i64::from(helpful))
                    .bind(comment)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error("recording feedback", e))?;
                tx.commit().await.map_err(|e| db_error("committing feedback", e))?;
                Ok(Some(id))
            }
        }

        #[async_trait]
        impl DeviceStore for $store {
            async fn create_device(&self, d: &NewDevice) -> Result<Device> {
                let mut tx = self.pool.begin_with($begin).await.map_err(|e| db_error("starting a transaction", e))?;
                Self::require_customer(&mut *tx, d.customer_id).await?;
                let model_id: Option<i64> = match &d.model {
                    Some(name) => sqlx::query_scalar("SELECT id FROM printer_models WHERE canonical = ?")
                        .bind(name)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(|e| db_error("finding the model", e))?,
                    None => None,
                };
                let $res = sqlx::query(
                    "INSERT INTO devices (customer_id, model_id, model_name, serial, location) VALUES (?, ?, ?, ?, ?)",
                )
                .bind(d.customer_id)
                .bind(model_id)
                .bind(&d.model)
                .bind(&d.serial)
                .bind(&d.location)
                .execute(&mut *tx)
                .await
                .map_err(|e| match e {
                    sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict(
                        "this customer already has a device with this serial number".into(),
                    ),
                    other => db_error("creating a device", other),
                })?;
                let id: i64 = $last_id;
                tx.commit().await.map_err(|e| db_error("committing a device", e))?;
                self.device(id)
                    .await?
                    .ok_or_else(|| Error::storage("a device vanished after its insert"))
            }

            async fn device(&self, id: i64) -> Result<Option<Device>> {
                let sql = format!("{} WHERE d.id = ?", Self::device_select());
                let row = sqlx::query(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| db_error("reading a device", e))?;
                row.as_ref().map(Self::device_row).transpose()
            }

            async fn devices(&self, customer_id: i64) -> Result<Vec<Device>> {
                let sql = format!("{} WHERE d.customer_id = ? ORDER BY d.id", Self::device_select());
                let rows = sqlx::query(&sql)
                    .bind(customer_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error("listing devices", e))?;
                rows.iter().map(Self::device_row).collect()
            }

            async fn sync_catalogue(&self, models: &[CatalogueModel]) -> Result<()> {
                let mut tx = self.pool.begin_with($begin).await.map_err(|e| db_error("starting a transaction", e))?;
                let known: Vec<String> = sqlx::query_scalar("SELECT canonical FROM printer_models")
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(|e| db_error("reading the models", e))?;
                let known: std::collections::HashSet<String> = known.into_iter().collect();
                for m in models {
                    let sql = if known.contains(&m.canonical) {
                        "UPDATE printer_models SET manufacturer = ?, name = ?, series = ?, kind = ? WHERE canonical = ?"
                    } else {
                        "INSERT INTO printer_models (manufacturer, name, series, kind, canonical) VALUES (?, ?, ?, ?, ?)"
                    };
                    sqlx::query(sql)
                        .bind(&m.manufacturer)
                        .bind(&m.name)
                        .bind(&m.series)
                        .bind(&m.kind)
                        .bind(&m.canonical)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| db_error("storing a model", e))?;
                }
                tx.commit().await.map_err(|e| db_error("committing the models", e))
            }

            async fn sync_kb_entries(&self, entries: &[KbEntryRow], generation: &str) -> Result<()> {
                let mut tx = self.pool.begin_with($begin).await.map_err(|e| db_error("starting a transaction", e))?;
                let known: Vec<String> = sqlx::query_scalar("SELECT id FROM kb_entries")
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(|e| db_error("reading the KB entries", e))?;
                let known: std::collections::HashSet<String> = known.into_iter().collect();
                for e in entries {
                    let sql = if known.contains(&e.id) {
                        format!("UPDATE kb_entries SET title = ?, content_hash = ?, generation = ?, updated_at = {} WHERE id = ?", $now)
                    } else {
                        "INSERT INTO kb_entries (title, content_hash, generation, id) VALUES (?, ?, ?, ?)".to_string()
                    };
                    sqlx::query(&sql)
                        .bind(&e.title)
                        .bind(&e.content_hash)
                        .bind(generation)
                        .bind(&e.id)
                        .execute(&mut *tx)
                        .await
                        .map_err(|err| db_error("storing a KB entry", err))?;
                }
                tx.commit().await.map_err(|e| db_error("committing the KB entries", e))
            }

            async fn kb_entry_count(&self, generation: &str) -> Result<i64> {
                sqlx::query_scalar("SELECT COUNT(*) FROM kb_entries WHERE generation = ?")
                    .bind(generation)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| db_error("counting KB entries", e))
            }
        }

        #[async_trait]
        impl ReportStore for $store {
            async fn ticket_stats(&self) -> Result<TicketStats> {
                let get = |e: sqlx::Error| db_error("counting tickets", e);
                let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets").fetch_one(&self.pool).await.map_err(get)?;
                let flagged: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets WHERE retention_flag = 1")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(get)?;
                Ok(TicketStats {
                    total,
                    by_status: self.counts("t.status").await?,
                    by_priority: self.counts("t.priority").await?,
                    by_category: self.counts("t.category").await?,
                    // The device's model, else the model the extractor found last.
                    by_model: self
                        .counts(
                            "COALESCE(m.canonical, d.model_name, (SELECT e.model FROM extractions e \
                             WHERE e.ticket_id = t.id AND e.model IS NOT NULL ORDER BY e.id DESC LIMIT 1))",
                        )
                        .await?,
                    retention_flagged: flagged,
                })
            }

            async fn ticket_outcomes(&self, since_day: &str) -> Result<Vec<TicketOutcome>> {
                let sql = format!(
                    "SELECT {} AS day, t.status, CAST(CASE WHEN t.escalation_reason IS NULL THEN 0 ELSE 1 END AS SIGNED) AS escalated, \
                     COALESCE((SELECT SUM(s.duration_ms) FROM processing_steps s WHERE s.ticket_id = t.id), 0e0) AS ms \
                     FROM tickets t WHERE t.created_at >= ? ORDER BY t.id",
                    format!($day, c = "t.created_at")
                );
                let get = |e: sqlx::Error| db_error("reading ticket outcomes", e);
                let rows = sqlx::query(&sql).bind(since_day).fetch_all(&self.pool).await.map_err(get)?;
                rows.iter()
                    .map(|row| {
                        let status: String = row.try_get("status").map_err(get)?;
                        let escalated: i64 = row.try_get("escalated").map_err(get)?;
                        Ok(TicketOutcome {
                            day: row.try_get("day").map_err(get)?,
                            auto_resolved: status == "auto_resolved",
                            escalated: escalated != 0,
                            processing_ms: row.try_get("ms").map_err(get)?,
                        })
                    })
                    .collect()
            }

            async fn put_daily_metrics(&self, days: &[DailyMetrics]) -> Result<()> {
                let mut tx = self.pool.begin_with($begin).await.map_err(|e| db_error("starting a transaction", e))?;
                // One upsert per day: a delete-then-insert takes gap locks on InnoDB that two
                // concurrent refreshes of a new day turn into a deadlock.
                for d in days {
                    sqlx::query($upsert_metrics)
                        .bind(&d.day)
                        .bind(d.tickets)
                        .bind(d.auto_resolved)
                        .bind(d.escalated)
                        .bind(d.mean_ms)
                        .bind(d.p95_ms)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| db_error("storing daily metrics", e))?;
                }
                tx.commit().await.map_err(|e| db_error("committing daily metrics", e))
            }

            async fn daily_metrics(&self, since_day: &str) -> Result<Vec<DailyMetrics>> {
                let sql = format!(
                    "SELECT {} AS day, CAST(tickets AS SIGNED) AS tickets, CAST(auto_resolved AS SIGNED) AS auto_resolved, \
                     CAST(escalated AS SIGNED) AS escalated, mean_ms, p95_ms FROM automation_metrics WHERE day >= ? ORDER BY day",
                    format!($day, c = "day")
                );
                let get = |e: sqlx::Error| db_error("reading daily metrics", e);
                let rows = sqlx::query(&sql).bind(since_day).fetch_all(&self.pool).await.map_err(get)?;
                rows.iter()
                    .map(|row| {
                        Ok(DailyMetrics {
                            day: row.try_get("day").map_err(get)?,
                            tickets: row.try_get("tickets").map_err(get)?,
                            auto_resolved: row.try_get("auto_resolved").map_err(get)?,
                            escalated: row.try_get("escalated").map_err(get)?,
                            mean_ms: row.try_get("mean_ms").map_err(get)?,
                            p95_ms: row.try_get("p95_ms").map_err(get)?,
                        })
                    })
                    .collect()
            }
        }
    };
}
