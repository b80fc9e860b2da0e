//! `POST /channels/create`.

use super::*;
use crate::domain::Actor;
use crate::domain::users::blocks::{Entry, candidates, check_blocks};

/// A validated create request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChannel {
    pub channel: Channel,
    /// The owner and the members, folded, in id order.
    pub member_ids: Vec<String>,
    /// `reuseChannel` applies (private channels only).
    pub reuse: bool,
}

/// Checks a create request against CONTRACT.md ("Create channel"); pure, so each rule is a
/// unit test. `now` stamps the channel.
pub fn plan_create(app: &AppId, req: CreateChannelRequest, now: i64) -> Result<NewChannel, Error> {
    let raw_type = validate::required("type", req.channel_type)?;
    let channel_type = ChannelType::parse(&raw_type).ok_or_else(|| {
        Error::InvalidParam(format!(
            "type must be one of {}",
            ChannelType::ALL.map(ChannelType::as_str).join(", ")
        ))
    })?;
    let members = validate::required("members", req.members)?;

    let owner_id = req.owner_id.unwrap_or_default();
    if !owner_id.is_empty() {
        validate::id("ownerId", &owner_id, MAX_USER_ID_CHARS)?;
    }
    let channel_id = req.channel_id.unwrap_or_default();
    if !channel_id.is_empty() {
        validate::id("channelId", &channel_id, MAX_CHANNEL_ID_CHARS)?;
    }
    let name = req.name.unwrap_or_default();
    validate::max_chars("name", &name, MAX_CHANNEL_NAME_CHARS)?;
    let image_url = req.image_url.unwrap_or_default();
    validate::max_chars("imageUrl", &image_url, MAX_URL_CHARS)?;
    let category = req.category.unwrap_or_default();
    validate::max_chars("category", &category, MAX_CATEGORY_CHARS)?;
    let subcategory = req.subcategory.unwrap_or_default();
    validate::max_chars("subcategory", &subcategory, MAX_CATEGORY_CHARS)?;
    let data = req
        .data
        .map(|d| validate::data_map("data", &d))
        .transpose()?
        .unwrap_or_default();

    let invitation_code = match (channel_type, req.invitation_code) {
        (ChannelType::InvitationOnly, None) => return Err(Error::InvitationCodeRequired),
        (ChannelType::InvitationOnly, Some(code)) if code.is_empty() => {
            return Err(Error::InvitationCodeEmpty);
        }
        (_, code) => code.unwrap_or_default(),
    };
    validate::max_chars(
        "invitationCode",
        &invitation_code,
        MAX_INVITATION_CODE_CHARS,
    )?;

    let max_member_count = match (channel_type.is_super(), req.max_member_count) {
        (false, None) => MAX_MEMBERS,
        (true, None) => UNLIMITED,
        (false, Some(n)) if (1..=MAX_MEMBERS).contains(&n) => n,
        (true, Some(n)) if n == UNLIMITED || n >= 1 => n,
        (false, Some(_)) => {
            return Err(Error::InvalidParam(format!(
                "maxMemberCount must be from 1 to {MAX_MEMBERS}"
            )));
        }
        (true, Some(_)) => {
            return Err(Error::InvalidParam(
                "maxMemberCount must be -1 (unlimited) or at least 1".into(),
            ));
        }
    };

    let mut ids = BTreeSet::new();
    for id in members {
        validate::id("members", &id, MAX_USER_ID_CHARS)?;
        ids.insert(id);
    }
    if !owner_id.is_empty() {
        ids.insert(owner_id.clone());
    }
    let count = ids.len();
    let count_i64 = i64::try_from(count).unwrap_or(i64::MAX);
    if max_member_count != UNLIMITED && count_i64 > max_member_count {
        return Err(Error::ChannelFull(format!(
            "{count} members exceed maxMemberCount {max_member_count}"
        )));
    }
    if count > MAX_INITIAL_MEMBERS {
        return Err(Error::InvalidParam(format!(
            "a channel is created with at most {MAX_INITIAL_MEMBERS} members; add more later"
        )));
    }
    let member_ids: Vec<String> = ids.into_iter().collect();

    let reuse = req.reuse_channel == Some(true) && channel_type == ChannelType::Private;
    let channel_id = match (channel_id.is_empty(), reuse) {
        (false, _) => channel_id,
        (true, true) => reuse_channel_id(app, &member_ids),
        (true, false) => random_hex(16),
    };

    Ok(NewChannel {
        channel: Channel {
            id: channel_id,
            channel_type,
            name,
            owner_id,
            image_url,
            invitation_code,
            is_frozen: false,
            hide_messages_before_join: req.hide_messages_before_join.unwrap_or(false),
            category,
            subcategory,
            data,
            member_count: count_i64,
            max_member_count,
            message_count: 0,
            created_at: now,
            updated_at: now,
        },
        member_ids,
        reuse,
    })
}

/// The id of the reusable private channel of a member set: the same set (in any order, with
/// any owner among it) always names the same channel, so racing creates meet on one id.
pub fn reuse_channel_id(app: &AppId, sorted_member_ids: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(app.as_str().as_bytes());
    for id in sorted_member_ids {
        // Ids never contain '\n', so the encoding is unambiguous.
        h.update(b"\n");
        h.update(id.as_bytes());
    }
    let digest = hex(&h.finalize());
    format!("reuse-{}", &digest[..40])
}

/// `POST /channels/create`. Round trips, common case: one BatchGetItem (the users), one
/// TransactWriteItems (channel and memberships). With `reuseChannel`, the channel read runs
/// beside the users read, so reopening an existing channel is one round trip.
/// On the client API the caller is the owner, whatever `ownerId` says.
pub async fn create(
    store: &Store,
    app: &AppId,
    actor: Actor<'_>,
    mut req: CreateChannelRequest,
) -> Result<ChannelDetail, Error> {
    if let Actor::User(caller) = actor {
        req.owner_id = Some(caller.to_owned());
    }
    let plan = plan_create(app, req, now_ms())?;
    let (users, existing) = if plan.reuse {
        let (users, existing) = futures::future::try_join(
            store.users_by_id(app.as_str(), &plan.member_ids),
            store.channel(app.as_str(), &plan.channel.id),
        )
        .await?;
        (users, Some(existing))
    } else {
        (
            store.users_by_id(app.as_str(), &plan.member_ids).await?,
            None,
        )
    };
    check_users_exist(&plan, &users)?;
    match existing {
        Some(lookup) => reuse_or_create(store, app, &plan, users, lookup).await,
        None => {
            write(store, app, &plan, &users).await?;
            Ok(created_detail(&plan, users))
        }
    }
}

fn check_users_exist(plan: &NewChannel, users: &HashMap<String, User>) -> Result<(), Error> {
    let owner = &plan.channel.owner_id;
    if !owner.is_empty() && !users.contains_key(owner) {
        return Err(Error::ChannelOwnerNotFound(owner.clone()));
    }
    match plan.member_ids.iter().find(|id| !users.contains_key(*id)) {
        Some(missing) => Err(Error::UserNotFound(missing.clone())),
        None => Ok(()),
    }
}

/// Writes a new channel, after the rules about who may enter one: no deactivated owner or
/// member (`3010`), no member the owner blocks or who blocks the owner (`2019`, `2020`).
async fn write(
    store: &Store,
    app: &AppId,
    plan: &NewChannel,
    users: &HashMap<String, User>,
) -> Result<(), Error> {
    let owner = &plan.channel.owner_id;
    let deactivated = std::iter::once(owner)
        .chain(&plan.member_ids)
        .find(|id| users.get(*id).is_some_and(|u| u.deactivated));
    if let Some(id) = deactivated {
        return Err(Error::DeactivatedUser(id.clone()));
    }
    let candidates = candidates(
        users.get(owner),
        plan.member_ids.iter().filter_map(|id| users.get(id)),
    );
    check_blocks(
        store,
        app.as_str(),
        owner,
        candidates,
        &plan.member_ids,
        Entry::Create,
    )
    .await?;
    let memberships: Vec<Membership> = plan
        .member_ids
        .iter()
        .map(|id| Membership::new(id.clone(), plan.channel.created_at))
        .collect();
    store
        .create_channel(app.as_str(), &plan.channel, &memberships)
        .await
}

fn created_detail(plan: &NewChannel, mut users: HashMap<String, User>) -> ChannelDetail {
    let members = plan
        .member_ids
        .iter()
        .map(|id| Member {
            membership: Membership::new(id.clone(), plan.channel.created_at),
            profile: users.remove(id),
        })
        .collect();
    ChannelDetail {
        channel: plan.channel.clone(),
        viewer: None,
        members,
        bots: Vec::new(),
        banned: Vec::new(),
        last_message: None,
    }
}

/// `reuseChannel`: answer with the existing channel if its members are the requested set,
/// otherwise create it. Every create is conditional, so racing requests end on one channel.
async fn reuse_or_create(
    store: &Store,
    app: &AppId,
    plan: &NewChannel,
    users: HashMap<String, User>,
    mut lookup: ChannelLookup,
) -> Result<ChannelDetail, Error> {
    let deadline = tokio::time::Instant::now() + REUSE_WAIT;
    let mut attempt = 0;
    loop {
        match lookup {
            ChannelLookup::Found(existing) => {
                return reuse(store, app, plan, *existing, users).await;
            }
            ChannelLookup::Missing | ChannelLookup::Abandoned => {
                match write(store, app, plan, &users).await {
                    Ok(()) => return Ok(created_detail(plan, users)),
                    // Someone else created it first: read what they created.
                    Err(Error::ChannelIdTaken(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            ChannelLookup::InProgress => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(Error::Unavailable(format!(
                        "channel {} is still being created",
                        plan.channel.id
                    )));
                }
                crate::store::retry::pause(attempt).await;
            }
        }
        attempt += 1;
        lookup = store.channel(app.as_str(), &plan.channel.id).await?;
    }
}

async fn reuse(
    store: &Store,
    app: &AppId,
    plan: &NewChannel,
    existing: ChannelMembers,
    users: HashMap<String, User>,
) -> Result<ChannelDetail, Error> {
    let id = existing.channel.id.clone();
    if existing.channel.channel_type != ChannelType::Private {
        return Err(Error::ChannelIdTaken(id));
    }
    let same = existing.members.len() == plan.member_ids.len()
        && existing
            .members
            .iter()
            .zip(&plan.member_ids)
            .all(|(m, id)| &m.user_id == id);
    if !same {
        return Err(Error::ReuseMembersDiffer(id));
    }
    // The members' profiles are the ones just read; only bots, if any, need a read.
    one(add_profiles(store, app, vec![existing], users).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AppId;
    use serde_json::{Value, json};

    fn app() -> AppId {
        AppId::for_tests("app-1")
    }

    fn plan(body: Value) -> Result<NewChannel, Error> {
        let req: CreateChannelRequest = serde_json::from_value(body).expect("request shape");
        plan_create(&app(), req, 1_000)
    }

    fn code(body: Value) -> &'static str {
        match plan(body.clone()) {
            Ok(_) => "ok",
            Err(e) => e.spec().code,
        }
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("u{i:03}")).collect()
    }

    #[test]
    fn each_rule_gives_its_code() {
        let long = |n: usize| "x".repeat(n);
        let cases: Vec<(&str, Value, &str)> = vec![
            ("minimal", json!({"type": "public", "members": []}), "ok"),
            ("type missing", json!({"members": []}), "1002"),
            ("type null", json!({"type": null, "members": []}), "1002"),
            (
                "type unknown",
                json!({"type": "group", "members": []}),
                "1001",
            ),
            (
                "type wrong case",
                json!({"type": "Private", "members": []}),
                "1001",
            ),
            ("members missing", json!({"type": "public"}), "1002"),
            (
                "bad member id",
                json!({"type": "public", "members": ["a b"]}),
                "1001",
            ),
            (
                "empty member id",
                json!({"type": "public", "members": [""]}),
                "1001",
            ),
            (
                "bad owner id",
                json!({"type": "public", "members": [], "ownerId": "a/b"}),
                "1001",
            ),
            (
                "bad channel id",
                json!({"type": "public", "members": [], "channelId": "a#b"}),
                "1001",
            ),
            (
                "channel id 128",
                json!({"type": "public", "members": [], "channelId": long(128)}),
                "ok",
            ),
            (
                "channel id 129",
                json!({"type": "public", "members": [], "channelId": long(129)}),
                "1001",
            ),
            (
                "name 128",
                json!({"type": "public", "members": [], "name": long(128)}),
                "ok",
            ),
            (
                "name 129",
                json!({"type": "public", "members": [], "name": long(129)}),
                "1001",
            ),
            (
                "imageUrl 2049",
                json!({"type": "public", "members": [], "imageUrl": long(2049)}),
                "1001",
            ),
            (
                "category 32",
                json!({"type": "public", "members": [], "category": long(32)}),
                "ok",
            ),
            (
                "category 33",
                json!({"type": "public", "members": [], "category": long(33)}),
                "1001",
            ),
            (
                "subcategory 33",
                json!({"type": "public", "members": [], "subcategory": long(33)}),
                "1001",
            ),
            (
                "data 6 pairs",
                json!({"type": "public", "members": [], "data": {"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6"}}),
                "1011",
            ),
            (
                "data number",
                json!({"type": "public", "members": [], "data": {"a": 1}}),
                "1011",
            ),
            (
                "data array",
                json!({"type": "public", "members": [], "data": ["a"]}),
                "1011",
            ),
            (
                "invitationOnly without code",
                json!({"type": "invitationOnly", "members": []}),
                "2012",
            ),
            (
                "invitationOnly null code",
                json!({"type": "invitationOnly", "members": [], "invitationCode": null}),
                "2012",
            ),
            (
                "invitationOnly empty code",
                json!({"type": "invitationOnly", "members": [], "invitationCode": ""}),
                "2013",
            ),
            (
                "invitationOnly with code",
                json!({"type": "invitationOnly", "members": [], "invitationCode": "c0de"}),
                "ok",
            ),
            (
                "max 0",
                json!({"type": "public", "members": [], "maxMemberCount": 0}),
                "1001",
            ),
            (
                "max 101",
                json!({"type": "public", "members": [], "maxMemberCount": 101}),
                "1001",
            ),
            (
                "max -1 non-super",
                json!({"type": "private", "members": [], "maxMemberCount": -1}),
                "1001",
            ),
            (
                "super max -1",
                json!({"type": "super_public", "members": [], "maxMemberCount": -1}),
                "ok",
            ),
            (
                "super max 100000",
                json!({"type": "super_private", "members": [], "maxMemberCount": 100000}),
                "ok",
            ),
            (
                "super max 0",
                json!({"type": "super_broadcast", "members": [], "maxMemberCount": 0}),
                "1001",
            ),
            (
                "super max -2",
                json!({"type": "super_broadcast", "members": [], "maxMemberCount": -2}),
                "1001",
            ),
            (
                "members over max",
                json!({"type": "public", "members": ["a", "b", "c"], "maxMemberCount": 2}),
                "2029",
            ),
            (
                "owner counts toward max",
                json!({"type": "public", "members": ["a", "b"], "ownerId": "c", "maxMemberCount": 2}),
                "2029",
            ),
            (
                "duplicates fold before max",
                json!({"type": "public", "members": ["a", "a", "b"], "ownerId": "a", "maxMemberCount": 2}),
                "ok",
            ),
            (
                "100 members",
                json!({"type": "private", "members": ids(100)}),
                "ok",
            ),
            (
                "101 members",
                json!({"type": "private", "members": ids(101)}),
                "2029",
            ),
            (
                "super 101 members",
                json!({"type": "super_public", "members": ids(101)}),
                "1001",
            ),
            (
                "super over its max",
                json!({"type": "super_public", "members": ids(3), "maxMemberCount": 2}),
                "2029",
            ),
        ];
        for (name, body, want) in cases {
            assert_eq!(code(body), want, "{name}");
        }
    }

    #[test]
    fn defaults_follow_the_type() {
        for t in ChannelType::ALL {
            let mut body = json!({"type": t.as_str(), "members": []});
            if t == ChannelType::InvitationOnly {
                body["invitationCode"] = json!("x");
            }
            let p = plan(body).unwrap();
            let want = if t.is_super() { UNLIMITED } else { MAX_MEMBERS };
            assert_eq!(p.channel.max_member_count, want, "{t:?}");
            assert_eq!(p.channel.channel_type, t);
            assert!(!p.channel.is_frozen);
            assert_eq!((p.channel.created_at, p.channel.updated_at), (1_000, 1_000));
        }
    }

    #[test]
    fn owner_is_a_member_and_duplicates_fold() {
        let p = plan(json!({"type": "public", "ownerId": "o", "members": ["b", "a", "b", "o"]}))
            .unwrap();
        assert_eq!(p.member_ids, ["a", "b", "o"]);
        assert_eq!(p.channel.member_count, 3);
        assert_eq!(p.channel.owner_id, "o");
    }

    #[test]
    fn channel_ids_given_generated_or_derived() {
        let given = plan(json!({"type": "public", "members": [], "channelId": "c-1"})).unwrap();
        assert_eq!(given.channel.id, "c-1");
        let a = plan(json!({"type": "public", "members": []})).unwrap();
        let b = plan(json!({"type": "public", "members": [], "channelId": ""})).unwrap();
        assert_ne!(a.channel.id, b.channel.id);
        assert!(validate_channel_id(&a.channel.id).is_ok());

        let r1 = plan(
            json!({"type": "private", "reuseChannel": true, "ownerId": "x", "members": ["y"]}),
        )
        .unwrap();
        let r2 = plan(
            json!({"type": "private", "reuseChannel": true, "ownerId": "y", "members": ["x", "y"]}),
        )
        .unwrap();
        assert!(r1.reuse && r2.reuse);
        assert_eq!(r1.channel.id, r2.channel.id);
        assert!(validate_channel_id(&r1.channel.id).is_ok());
        let r3 =
            plan(json!({"type": "private", "reuseChannel": true, "members": ["x", "z"]})).unwrap();
        assert_ne!(r1.channel.id, r3.channel.id);
        let other_app = reuse_channel_id(&AppId::for_tests("app-2"), &["x".into(), "y".into()]);
        assert_ne!(r1.channel.id, other_app);
    }

    #[test]
    fn reuse_applies_to_private_channels_only() {
        let p = plan(json!({"type": "public", "reuseChannel": true, "members": ["a"]})).unwrap();
        assert!(!p.reuse);
        assert!(!p.channel.id.starts_with("reuse-"));
    }
}
