//! Blocking (one-way: A blocks B) and the block rules where a user enters a channel.
//!
//! The rules concern the channel's owner only: a user the owner blocks, or who blocks the
//! owner, cannot be created into, added to or join the channel; co-membership with any
//! other member stays allowed. Each user item counts its blocks both ways, so a rule reads
//! block items only when both sides have some (`candidates`); most entries cost nothing.

use super::{DEFAULT_LIST_LIMIT, validate_user_id};
use crate::Error;
use crate::auth::AppId;
use crate::error::BlockRule;
use crate::model::{Page, User, now_ms};
use crate::store::{BlockOutcome, OwnerBlocks, Store};
use crate::validate;
use crate::wire::BlockRequest;

pub use super::MAX_LIST_LIMIT as MAX_BLOCKED_LIMIT;
pub const DEFAULT_BLOCKED_LIMIT: usize = DEFAULT_LIST_LIMIT;

/// How a user enters a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Create,
    Add,
    Join,
}

impl Entry {
    fn rules(self) -> (BlockRule, BlockRule) {
        match self {
            Entry::Create => (BlockRule::CreateWithBlocked, BlockRule::CreateWhenBlocked),
            Entry::Add => (BlockRule::AddBlocked, BlockRule::AddWhenBlocked),
            Entry::Join => (BlockRule::JoinBlockedByOwner, BlockRule::JoinBlockedOwner),
        }
    }
}

/// The entering users whose block relations with the owner must be read: none unless the
/// owner has blocks, and then only those with blocks the other way. With the owner's counts
/// unknown (`None`), every entering user with any block.
pub fn candidates<'a>(
    owner: Option<&User>,
    entering: impl IntoIterator<Item = &'a User>,
) -> Vec<String> {
    let (owner_blocks, owner_blocked) =
        owner.map_or((true, true), |o| (o.blocking > 0, o.blocked_by > 0));
    entering
        .into_iter()
        .filter(|u| owner.is_none_or(|o| o.id != u.id))
        .filter(|u| (owner_blocks && u.blocked_by > 0) || (owner_blocked && u.blocking > 0))
        .map(|u| u.id.clone())
        .collect()
}

/// The rule an entry breaks, naming the first user (in the order given) who breaks it.
pub fn check_entry(
    owner: &str,
    entering: &[String],
    blocks: &OwnerBlocks,
    entry: Entry,
) -> Result<(), Error> {
    let (owner_blocks, blocks_owner) = entry.rules();
    for id in entering.iter().filter(|id| *id != owner) {
        if blocks.blocked_by_owner.contains(id) {
            return Err(Error::Blocked(
                owner_blocks,
                format!("the channel's owner {owner} blocks user {id}"),
            ));
        }
        if blocks.blocking_owner.contains(id) {
            return Err(Error::Blocked(
                blocks_owner,
                format!("user {id} blocks the channel's owner {owner}"),
            ));
        }
    }
    Ok(())
}

/// Reads (only if needed) and checks the block rules for users entering a channel.
pub async fn check_blocks(
    store: &Store,
    app_id: &str,
    owner: &str,
    candidates: Vec<String>,
    entering: &[String],
    entry: Entry,
) -> Result<(), Error> {
    if owner.is_empty() || candidates.is_empty() {
        return Ok(());
    }
    let blocks = store.owner_blocks(app_id, owner, &candidates).await?;
    check_entry(owner, entering, &blocks, entry)
}

fn target(user_id: &str, req: BlockRequest) -> Result<String, Error> {
    validate_user_id(user_id)?;
    let target = validate::required("userId", req.user_id)?;
    validate_user_id(&target)?;
    Ok(target)
}

/// `POST /users/{userId}/block`: idempotent (a second block is 200).
pub async fn block(
    store: &Store,
    app: &AppId,
    user_id: &str,
    req: BlockRequest,
) -> Result<(), Error> {
    let target = target(user_id, req)?;
    if target == user_id {
        return Err(Error::CannotBlockSelf);
    }
    match store
        .block(app.as_str(), user_id, &target, now_ms())
        .await?
    {
        BlockOutcome::Done | BlockOutcome::Unchanged => Ok(()),
        BlockOutcome::UserMissing => Err(Error::UserNotFound(user_id.to_owned())),
        BlockOutcome::TargetMissing => Err(Error::UserNotFound(target)),
    }
}

/// `POST /users/{userId}/unblock`: `5002` if there is no such block.
pub async fn unblock(
    store: &Store,
    app: &AppId,
    user_id: &str,
    req: BlockRequest,
) -> Result<(), Error> {
    let target = target(user_id, req)?;
    if target == user_id {
        return Err(Error::CannotUnblockSelf);
    }
    match store.unblock(app.as_str(), user_id, &target).await? {
        BlockOutcome::Done => Ok(()),
        BlockOutcome::Unchanged => Err(Error::UserNotBlocked(target)),
        BlockOutcome::UserMissing => Err(Error::UserNotFound(user_id.to_owned())),
        BlockOutcome::TargetMissing => Err(Error::UserNotFound(target)),
    }
}

/// `GET /users/{userId}/blocked`: the users `user_id` blocks, in id order, with their
/// current profiles. The blocks and the user are read together; then the profiles.
pub async fn blocked(
    store: &Store,
    app: &AppId,
    user_id: &str,
    last_user_id: Option<&str>,
    limit: usize,
) -> Result<Page<User>, Error> {
    validate_user_id(user_id)?;
    let last = last_user_id.filter(|s| !s.is_empty());
    if let Some(last) = last {
        validate_user_id(last)?;
    }
    let (user, page) = futures::future::try_join(
        store.user(app.as_str(), user_id),
        store.blocked_ids(app.as_str(), user_id, last, limit),
    )
    .await?;
    if user.is_none() {
        return Err(Error::UserNotFound(user_id.to_owned()));
    }
    let mut profiles = store.users_by_id(app.as_str(), &page.items).await?;
    // A blocked user deleted a moment ago (its blocks still being swept) is left out.
    let items = page
        .items
        .iter()
        .filter_map(|id| profiles.remove(id))
        .collect();
    Ok(Page {
        items,
        has_next: page.has_next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, blocking: i64, blocked_by: i64) -> User {
        User {
            blocking,
            blocked_by,
            ..User::new(id.into(), 0)
        }
    }

    fn code(r: Result<(), Error>) -> &'static str {
        r.err().map_or("ok", |e| e.spec().code)
    }

    #[test]
    fn block_reads_only_when_both_sides_have_blocks() {
        let none = user("o", 0, 0);
        let blocks = user("o", 1, 0);
        let blocked = user("o", 0, 1);
        let members = [user("a", 0, 0), user("b", 0, 2), user("c", 3, 0)];
        assert!(candidates(Some(&none), &members).is_empty());
        assert_eq!(candidates(Some(&blocks), &members), ["b"]);
        assert_eq!(candidates(Some(&blocked), &members), ["c"]);
        assert_eq!(candidates(None, &members), ["b", "c"]);
        // The owner among the entering users is never a candidate.
        assert!(candidates(Some(&blocks), [&user("o", 1, 1)]).is_empty());
    }

    #[test]
    fn each_entry_and_direction_has_its_code() {
        let ids = ["a".to_owned(), "b".to_owned(), "o".to_owned()];
        let by_owner = OwnerBlocks {
            blocked_by_owner: ["b".to_owned()].into(),
            ..OwnerBlocks::default()
        };
        let of_owner = OwnerBlocks {
            blocking_owner: ["a".to_owned()].into(),
            ..OwnerBlocks::default()
        };
        for (entry, first, second) in [
            (Entry::Create, "2019", "2020"),
            (Entry::Add, "2021", "2022"),
            (Entry::Join, "2023", "2024"),
        ] {
            assert_eq!(code(check_entry("o", &ids, &by_owner, entry)), first);
            assert_eq!(code(check_entry("o", &ids, &of_owner, entry)), second);
            assert_eq!(
                code(check_entry("o", &ids, &OwnerBlocks::default(), entry)),
                "ok"
            );
        }
        // Blocks between the owner and itself, or among members, are not rules.
        let own = OwnerBlocks {
            blocked_by_owner: ["o".to_owned()].into(),
            blocking_owner: ["o".to_owned()].into(),
        };
        assert_eq!(code(check_entry("o", &ids, &own, Entry::Add)), "ok");
    }
}
