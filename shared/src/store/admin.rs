//! Channel updates: the attributes of the channel item, ownership, freezing.

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};

use super::channels::{TransactError, action_error};
use super::members::Refusal;
use super::{SetFields, Store, keys, s, string_map};
use crate::Error;
use crate::model::{Channel, ChannelChanges};

impl Store {
    /// Applies `changes` to a channel that exists, is not being deleted and has no change
    /// pending; with a new `maxMemberCount`, the count must still fit it; with a new owner,
    /// the owner's membership must exist. One transaction.
    pub async fn update_channel(
        &self,
        app_id: &str,
        channel: &Channel,
        changes: &ChannelChanges,
        owner: Option<&str>,
        now: i64,
    ) -> Result<Result<(), Refusal>, Error> {
        let b = |v: bool| AttributeValue::Bool(v);
        let n = |v: i64| AttributeValue::N(v.to_string());
        let mut fields = Vec::new();
        let c = changes;
        for (attribute, value) in [
            ("name", &c.name),
            ("owner_id", &c.owner_id),
            ("invitation_code", &c.invitation_code),
            ("image_url", &c.image_url),
            ("category", &c.category),
            ("subcategory", &c.subcategory),
        ] {
            if let Some(v) = value {
                fields.push((attribute, s(v)));
            }
        }
        if let Some(v) = &c.data {
            fields.push(("data", string_map(v)));
        }
        if let Some(v) = c.max_member_count {
            fields.push(("max_member_count", n(v)));
        }
        if let Some(v) = c.hide_messages_before_join {
            fields.push(("hide_messages_before_join", b(v)));
        }
        if let Some(v) = c.is_frozen {
            fields.push(("is_frozen", b(v)));
        }
        let SetFields {
            expression,
            mut names,
            mut values,
        } = SetFields::new(now, fields);
        let mut condition = "attribute_exists(pk) AND attribute_not_exists(pending_token) \
                             AND attribute_not_exists(deleted_at)"
            .to_owned();
        if let Some(owner) = owner {
            condition.push_str(" AND owner_id = :actor");
            values.insert(":actor".into(), s(owner));
        }
        if let Some(max) = c.max_member_count.filter(|m| *m >= 0) {
            condition.push_str(" AND #member_count <= :new_max");
            names.insert("#member_count".into(), "member_count".into());
            values.insert(":new_max".into(), n(max));
        }
        let update = Update::builder()
            .table_name(self.table())
            .key("pk", s(keys::channel_pk(app_id, &channel.id)))
            .key("sk", s(keys::CHANNEL_SK))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| action_error("update", e))?;
        let mut actions = vec![TransactWriteItem::builder().update(update).build()];
        if let Some(owner) = c.owner_id.as_deref().filter(|o| !o.is_empty()) {
            let check = ConditionCheck::builder()
                .table_name(self.table())
                .key("pk", s(keys::channel_pk(app_id, &channel.id)))
                .key("sk", s(keys::member_sk(channel.channel_type, owner)))
                .condition_expression("attribute_exists(pk)")
                .build()
                .map_err(|e| action_error("condition check", e))?;
            actions.push(TransactWriteItem::builder().condition_check(check).build());
        }
        match self.transact("update channel", actions).await {
            Ok(()) => Ok(Ok(())),
            Err(TransactError::Refused(refused)) => Ok(Err(if refused.contains(&0) {
                Refusal::Channel
            } else {
                Refusal::Write(0)
            })),
            Err(TransactError::Failed(e)) => Err(e),
        }
    }
}
