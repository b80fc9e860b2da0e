//! The table's shape. The provisioning tool and the tests create the table from this;
//! `template.yaml` declares the same shape, and a test checks that the two agree.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// Sparse index for reverse lookups (an app's users; later a user's or a bot's channels).
pub const GSI1: &str = "gsi1";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";
/// Epoch seconds; DynamoDB deletes an item some time after this passes.
pub const TTL_ATTRIBUTE: &str = "ttl";

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("key schema element has its required fields")
}

fn string_attr(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("attribute definition has its required fields")
}

/// What `ensure_table` reports.
#[derive(Debug, PartialEq, Eq)]
pub enum TableStatus {
    Created,
    AlreadyExisted,
}

/// Whether the table has its change stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeStream {
    On,
    /// For test tables whose tests read no stream: an in-process engine that keeps a stream
    /// does more work for every write.
    Off,
}

/// Creates the table (on-demand, with the index, TTL and change stream) unless it exists, and
/// gives an existing table its stream. Safe to run concurrently: a table that another caller
/// created first counts as existing.
pub async fn ensure_table(client: &Client, table: &str) -> Result<TableStatus, crate::Error> {
    ensure_table_with(client, table, ChangeStream::On).await
}

/// `ensure_table`, with or without the change stream.
pub async fn ensure_table_with(
    client: &Client,
    table: &str,
    change_stream: ChangeStream,
) -> Result<TableStatus, crate::Error> {
    let gsi = GlobalSecondaryIndex::builder()
        .index_name(GSI1)
        .key_schema(key(GSI1_PK, KeyType::Hash))
        .key_schema(key(GSI1_SK, KeyType::Range))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .expect("index has its required fields");
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attr(PK))
        .attribute_definitions(string_attr(SK))
        .attribute_definitions(string_attr(GSI1_PK))
        .attribute_definitions(string_attr(GSI1_SK))
        .key_schema(key(PK, KeyType::Hash))
        .key_schema(key(SK, KeyType::Range))
        .global_secondary_indexes(gsi)
        .set_stream_specification((change_stream == ChangeStream::On).then(stream))
        .send()
        .await;
    let status = match created {
        Ok(_) => TableStatus::Created,
        Err(e) => {
            let e = e.into_service_error();
            if e.is_resource_in_use_exception() {
                TableStatus::AlreadyExisted
            } else {
                return Err(crate::Error::Internal(format!("create table {table}: {e}")));
            }
        }
    };
    wait_active(client, table).await?;
    if status == TableStatus::AlreadyExisted && change_stream == ChangeStream::On {
        ensure_stream(client, table).await?;
    }
    if status == TableStatus::Created {
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(TTL_ATTRIBUTE)
                    .enabled(true)
                    .build()
                    .expect("ttl spec has its required fields"),
            )
            .send()
            .await
            .map_err(|e| crate::Error::Internal(format!("enable TTL on {table}: {e}")))?;
    }
    Ok(status)
}

/// The change stream the sweeper and the webhooks read (template.yaml declares the same).
fn stream() -> StreamSpecification {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewAndOldImages)
        .build()
        .expect("stream spec has its required fields")
}

/// A table created before it had a stream (an older dev stack's data) gets one.
pub async fn ensure_stream(client: &Client, table: &str) -> Result<(), crate::Error> {
    let enabled = describe(client, table)
        .await?
        .table()
        .and_then(|t| t.stream_specification())
        .is_some_and(|s| s.stream_enabled());
    if !enabled {
        client
            .update_table()
            .table_name(table)
            .stream_specification(stream())
            .send()
            .await
            .map_err(|e| crate::Error::Internal(format!("enable the stream on {table}: {e}")))?;
        wait_active(client, table).await?;
    }
    Ok(())
}

async fn describe(
    client: &Client,
    table: &str,
) -> Result<aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput, crate::Error> {
    client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| crate::Error::Internal(format!("describe table {table}: {e}")))
}

async fn wait_active(client: &Client, table: &str) -> Result<(), crate::Error> {
    use aws_sdk_dynamodb::types::TableStatus as S;
    // Local engines are ACTIVE at once; real DynamoDB takes seconds.
    for _ in 0..120 {
        if describe(client, table)
            .await?
            .table()
            .and_then(|t| t.table_status())
            == Some(&S::Active)
        {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Err(crate::Error::Internal(format!(
        "table {table} did not become ACTIVE"
    )))
}
