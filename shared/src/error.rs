//! The one error enum of the API and the one table that maps it to TalkPlus codes and HTTP
//! statuses. `ERROR_TABLE` is what the README's error table is checked against.

use serde::Serialize;

/// One row of the error table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorSpec {
    /// TalkPlus error code, always sent as a string.
    pub code: &'static str,
    /// TalkPlus's name for the code (the Swift client's `KlatError` case, PascalCase).
    pub name: &'static str,
    pub status: u16,
}

macro_rules! specs {
    ($($ident:ident = $code:literal, $name:literal, $status:literal;)*) => {
        $(pub const $ident: ErrorSpec = ErrorSpec { code: $code, name: $name, status: $status };)*
        /// Every (code, status) pair the server can answer with.
        pub const ERROR_TABLE: &[ErrorSpec] = &[$($ident),*];
    };
}

specs! {
    PARAMS_BINDING = "1001", "ParamsBindingError", 400;
    BODY_TOO_LARGE = "1001", "ParamsBindingError", 413;
    INVALID_PARAMS = "1002", "InvalidParams", 400;
    INTERNAL = "1003", "InternalServerError", 500;
    UNAVAILABLE = "1003", "InternalServerError", 503;
    UNAUTHORIZED = "1006", "Unauthorized", 401;
    LOGIN_REQUIRED = "1007", "LoginRequired", 401;
    TOO_MANY_REQUESTS = "1010", "TooManyRequests", 429;
    INVALID_META_DATA = "1011", "InvalidMetaData", 400;
    DEACTIVATED_APP = "1012", "DeactivatedApp", 403;
    INVALID_PRIVATE_DATA = "1013", "InvalidPrivateData", 400;
    INVALID_PRIVATE_TAG = "1014", "InvalidPrivateTag", 400;
    INVALID_MEMBER_INFO = "1015", "InvalidMemberInfo", 400;
    CHANNEL_OWNER_NOT_FOUND = "2000", "ChannelOwnerNotFound", 404;
    MEMBER_NOT_FOUND = "2001", "ChannelMemberNotFound", 404;
    CHANNEL_ID_TAKEN = "2002", "ChannelIdAlreadyTaken", 409;
    CHANNEL_NOT_FOUND = "2003", "ChannelNotFound", 404;
    REUSE_MEMBERS_DIFFER = "2004", "ReuseChannelMembersDoNotMatch", 409;
    NOT_CHANNEL_MEMBER = "2005", "UserNotChannelMember", 403;
    UPDATE_NOT_AUTHORIZED = "2006", "ChannelUpdateNotAuthorized", 403;
    CANNOT_REMOVE_OWNER = "2007", "CannotRemoveChannelOwner", 403;
    ALREADY_MEMBER = "2008", "AlreadyMember", 409;
    REMOVE_USER_NOT_MEMBER = "2009", "RemoveUserNotMember", 404;
    BAN_USER_NOT_MEMBER = "2010", "BanUserNotMember", 404;
    CANNOT_JOIN_PRIVATE = "2011", "CannotJoinPrivateChannel", 403;
    INVITATION_CODE_REQUIRED = "2012", "InvitationCodeRequired", 400;
    INVITATION_CODE_EMPTY = "2013", "InvitationCodeCannotBeEmpty", 400;
    WRONG_INVITATION_CODE = "2014", "WrongInvitationCode", 403;
    NOT_INVITATION_ONLY = "2015", "ChannelNotInvitationOnlyType", 400;
    CANNOT_BAN_OWNER = "2016", "CannotBanOwnerFromChannel", 403;
    CANNOT_ADD_BANNED = "2017", "CannotAddBannedUser", 403;
    BANNED_FROM_CHANNEL = "2018", "BannedFromChannel", 403;
    CANNOT_MUTE_OWNER = "2028", "CannotMuteChannelOwner", 403;
    CREATE_WITH_BLOCKED = "2019", "CannotCreateChannelWithBlockedMember", 403;
    CREATE_WHEN_BLOCKED = "2020", "CannotCreateChannelWhenBlockedByMember", 403;
    ADD_BLOCKED = "2021", "CannotAddBlockedMember", 403;
    ADD_WHEN_BLOCKED = "2022", "CannotAddMemberWhenBlockedByMember", 403;
    JOIN_BLOCKED_BY_OWNER = "2023", "CannotJoinChannelBlockedByOwner", 403;
    JOIN_BLOCKED_OWNER = "2024", "CannotJoinChannelBlockedOwner", 403;
    FROZEN_CHANNEL = "2025", "CannotSendMessageInFrozenChannel", 403;
    MENTION_NOT_MEMBER = "2026", "MentionedUserDoesNotExist", 400;
    MUTED_IN_CHANNEL = "2027", "MutedInChannel", 403;
    CHANNEL_FULL = "2029", "MaxChannelMemberCountExceeded", 403;
    ALREADY_OWNER = "2030", "AlreadyChannelOwner", 403;
    NOT_CHANNEL_OWNER = "2031", "NotChannelOwner", 403;
    SESSION_NOT_FOUND = "3001", "SessionNotFound", 401;
    SESSION_TOKEN_INVALID = "3002", "SessionTokenInvalid", 401;
    USER_NOT_FOUND = "3003", "UserNotFound", 404;
    USER_ID_TAKEN = "3004", "UserIDTaken", 409;
    ANONYMOUS_LOGIN_NOT_ALLOWED = "3006", "AnonymousLoginNotAllowed", 403;
    WRONG_PASSWORD = "3008", "WrongPassword", 401;
    INVALID_LOGIN_TOKEN = "3009", "InvalidLoginToken", 401;
    DEACTIVATED_USER = "3010", "DeactivatedUser", 403;
    SENDER_NOT_MEMBER = "4000", "SenderNotChannelMember", 403;
    MESSAGE_TOO_LONG = "4001", "MsgSizeLimitExceeded", 400;
    MESSAGE_EMPTY = "4002", "BothMsgTextDataMissing", 400;
    MESSAGE_NOT_FOUND = "4003", "MessageNotFound", 404;
    CANNOT_BLOCK_SELF = "5000", "CannotBlockSelf", 400;
    CANNOT_UNBLOCK_SELF = "5001", "CannotUnblockSelf", 400;
    USER_NOT_BLOCKED = "5002", "UserNotBlocked", 404;
    BOT_NOT_FOUND = "7001", "BotNotFound", 404;
    BOT_ID_TAKEN = "7002", "BotIdAlreadyTaken", 409;
    TOO_MANY_BOTS = "7003", "TooManyBotsInChannel", 403;
    FILE_UPLOAD_FAILED = "6000", "FileUploadFail", 503;
    FILE_TOO_LARGE = "6001", "FileSizeLimitExceeded", 413;
}

/// The six block rules: how a user enters a channel (create, add, join), and which way the
/// block between them and the owner goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockRule {
    /// `2019`: created with a member the owner blocks.
    CreateWithBlocked,
    /// `2020`: created with a member who blocks the owner.
    CreateWhenBlocked,
    /// `2021`: adding a user the owner blocks.
    AddBlocked,
    /// `2022`: adding a user who blocks the owner.
    AddWhenBlocked,
    /// `2023`: joining a channel whose owner blocks the user.
    JoinBlockedByOwner,
    /// `2024`: joining a channel whose owner the user blocks.
    JoinBlockedOwner,
}

impl BlockRule {
    pub fn spec(self) -> ErrorSpec {
        match self {
            BlockRule::CreateWithBlocked => CREATE_WITH_BLOCKED,
            BlockRule::CreateWhenBlocked => CREATE_WHEN_BLOCKED,
            BlockRule::AddBlocked => ADD_BLOCKED,
            BlockRule::AddWhenBlocked => ADD_WHEN_BLOCKED,
            BlockRule::JoinBlockedByOwner => JOIN_BLOCKED_BY_OWNER,
            BlockRule::JoinBlockedOwner => JOIN_BLOCKED_OWNER,
        }
    }
}

/// Everything a request can fail with. Client mistakes carry a message meant for the caller;
/// `Internal` and `Unavailable` carry detail meant for the logs only.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidParam(String),
    #[error("request body is larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("{0} is required")]
    MissingParam(&'static str),
    #[error("TooManyRequests: the rate limit of {limit} requests a second was reached")]
    TooManyRequests { limit: u32 },
    #[error("{0}")]
    InvalidMetaData(String),
    #[error("Unauthorized")]
    Unauthorized,
    #[error("DeactivatedApp")]
    DeactivatedApp,
    #[error("owner {0} is not a user of this app")]
    ChannelOwnerNotFound(String),
    #[error("user {0} is not a member of the channel")]
    MemberNotFound(String),
    #[error("{0} is the channel's owner and cannot be removed")]
    CannotRemoveOwner(String),
    #[error("user {0} is already a member of the channel")]
    AlreadyMember(String),
    #[error("user {0} is not a member of the channel and cannot be removed")]
    RemoveUserNotMember(String),
    #[error("user {0} is not a member of the channel and cannot be banned")]
    BanUserNotMember(String),
    #[error("{0} is the channel's owner and cannot be banned")]
    CannotBanOwner(String),
    #[error("user {0} is banned from the channel")]
    CannotAddBanned(String),
    #[error("{0} is the channel's owner and cannot be muted")]
    CannotMuteOwner(String),
    #[error("{0} already owns the channel")]
    AlreadyOwner(String),
    #[error("channel id {0} is already taken")]
    ChannelIdTaken(String),
    #[error("channel {0} not found")]
    ChannelNotFound(String),
    #[error("channel {0} exists with other members")]
    ReuseMembersDiffer(String),
    #[error("invitationCode is required for an invitationOnly channel")]
    InvitationCodeRequired,
    #[error("invitationCode must not be empty")]
    InvitationCodeEmpty,
    #[error("{0}")]
    ChannelFull(String),
    #[error("user {0} not found")]
    UserNotFound(String),
    #[error("wrong password")]
    WrongPassword,
    #[error("user {0} is deactivated")]
    DeactivatedUser(String),
    #[error("a user cannot block themselves")]
    CannotBlockSelf,
    #[error("a user cannot unblock themselves")]
    CannotUnblockSelf,
    #[error("user {0} is not blocked")]
    UserNotBlocked(String),
    /// A user enters a channel against a block between them and its owner.
    #[error("{1}")]
    Blocked(BlockRule, String),
    #[error("user id {0} is already taken")]
    UserIdTaken(String),
    #[error("the channel is frozen: only its owner and admin messages may be sent")]
    FrozenChannel,
    #[error("mentioned user {0} is not a member of the channel")]
    MentionNotMember(String),
    #[error("{0} is muted in the channel")]
    Muted(String),
    #[error("{0} is not a member of the channel")]
    SenderNotMember(String),
    #[error("text must be at most {0} characters")]
    MessageTooLong(usize),
    #[error("text and data must not both be empty (unless the message has a file)")]
    MessageEmpty,
    #[error("message {0} not found in the channel")]
    MessageNotFound(String),
    #[error("bot {0} not found")]
    BotNotFound(String),
    #[error("bot id {0} is already taken")]
    BotIdTaken(String),
    #[error("channel {0} already has the most bots a channel may have")]
    TooManyBots(String),
    #[error("LoginRequired: the request has no session token")]
    LoginRequired,
    #[error("SessionTokenInvalid: {0}")]
    SessionTokenInvalid(&'static str),
    #[error(
        "SessionNotFound: the session has ended (logout, or the user's password, state or existence changed); log in again"
    )]
    SessionNotFound,
    #[error("AnonymousLoginNotAllowed: the app does not allow anonymous login")]
    AnonymousLoginNotAllowed,
    #[error("InvalidLoginToken: the login token is not the user's current one")]
    InvalidLoginToken,
    #[error("{0} is not a member of the channel")]
    NotChannelMember(String),
    #[error("only the channel's owner may change it")]
    UpdateNotAuthorized,
    #[error("only the channel's owner may do this")]
    NotChannelOwner,
    #[error("channel {0} cannot be joined: it is private")]
    CannotJoinPrivate(String),
    #[error("the invitation code is wrong")]
    WrongInvitationCode,
    #[error("channel {0} is not an invitationOnly channel")]
    NotInvitationOnly(String),
    #[error("{0} is banned from the channel")]
    BannedFromChannel(String),
    #[error("InvalidPrivateData: {0}")]
    InvalidPrivateData(String),
    #[error("InvalidPrivateTag: {0}")]
    InvalidPrivateTag(String),
    #[error("InvalidMemberInfo: {0}")]
    InvalidMemberInfo(String),
    /// TalkPlus's `1006` also means "no permission".
    #[error("Unauthorized: only its sender may change message {0}")]
    NotMessageSender(String),
    /// An uploaded file could not be stored (the detail is for the logs).
    #[error("file upload failed: {0}")]
    FileUploadFailed(String),
    #[error("FileSizeLimitExceeded: a file may have at most {0} bytes")]
    FileTooLarge(usize),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

impl Error {
    pub fn spec(&self) -> ErrorSpec {
        match self {
            Error::InvalidParam(_) => PARAMS_BINDING,
            Error::BodyTooLarge(_) => BODY_TOO_LARGE,
            Error::MissingParam(_) => INVALID_PARAMS,
            Error::TooManyRequests { .. } => TOO_MANY_REQUESTS,
            Error::InvalidMetaData(_) => INVALID_META_DATA,
            Error::Unauthorized => UNAUTHORIZED,
            Error::DeactivatedApp => DEACTIVATED_APP,
            Error::ChannelOwnerNotFound(_) => CHANNEL_OWNER_NOT_FOUND,
            Error::ChannelIdTaken(_) => CHANNEL_ID_TAKEN,
            Error::MemberNotFound(_) => MEMBER_NOT_FOUND,
            Error::CannotRemoveOwner(_) => CANNOT_REMOVE_OWNER,
            Error::AlreadyMember(_) => ALREADY_MEMBER,
            Error::RemoveUserNotMember(_) => REMOVE_USER_NOT_MEMBER,
            Error::BanUserNotMember(_) => BAN_USER_NOT_MEMBER,
            Error::CannotBanOwner(_) => CANNOT_BAN_OWNER,
            Error::CannotAddBanned(_) => CANNOT_ADD_BANNED,
            Error::CannotMuteOwner(_) => CANNOT_MUTE_OWNER,
            Error::AlreadyOwner(_) => ALREADY_OWNER,
            Error::ChannelNotFound(_) => CHANNEL_NOT_FOUND,
            Error::ReuseMembersDiffer(_) => REUSE_MEMBERS_DIFFER,
            Error::InvitationCodeRequired => INVITATION_CODE_REQUIRED,
            Error::InvitationCodeEmpty => INVITATION_CODE_EMPTY,
            Error::ChannelFull(_) => CHANNEL_FULL,
            Error::UserNotFound(_) => USER_NOT_FOUND,
            Error::UserIdTaken(_) => USER_ID_TAKEN,
            Error::FrozenChannel => FROZEN_CHANNEL,
            Error::MentionNotMember(_) => MENTION_NOT_MEMBER,
            Error::Muted(_) => MUTED_IN_CHANNEL,
            Error::SenderNotMember(_) => SENDER_NOT_MEMBER,
            Error::MessageTooLong(_) => MESSAGE_TOO_LONG,
            Error::MessageEmpty => MESSAGE_EMPTY,
            Error::MessageNotFound(_) => MESSAGE_NOT_FOUND,
            Error::WrongPassword => WRONG_PASSWORD,
            Error::DeactivatedUser(_) => DEACTIVATED_USER,
            Error::CannotBlockSelf => CANNOT_BLOCK_SELF,
            Error::CannotUnblockSelf => CANNOT_UNBLOCK_SELF,
            Error::UserNotBlocked(_) => USER_NOT_BLOCKED,
            Error::Blocked(rule, _) => rule.spec(),
            Error::BotNotFound(_) => BOT_NOT_FOUND,
            Error::BotIdTaken(_) => BOT_ID_TAKEN,
            Error::TooManyBots(_) => TOO_MANY_BOTS,
            Error::LoginRequired => LOGIN_REQUIRED,
            Error::SessionTokenInvalid(_) => SESSION_TOKEN_INVALID,
            Error::SessionNotFound => SESSION_NOT_FOUND,
            Error::AnonymousLoginNotAllowed => ANONYMOUS_LOGIN_NOT_ALLOWED,
            Error::InvalidLoginToken => INVALID_LOGIN_TOKEN,
            Error::NotChannelMember(_) => NOT_CHANNEL_MEMBER,
            Error::UpdateNotAuthorized => UPDATE_NOT_AUTHORIZED,
            Error::NotChannelOwner => NOT_CHANNEL_OWNER,
            Error::CannotJoinPrivate(_) => CANNOT_JOIN_PRIVATE,
            Error::WrongInvitationCode => WRONG_INVITATION_CODE,
            Error::NotInvitationOnly(_) => NOT_INVITATION_ONLY,
            Error::BannedFromChannel(_) => BANNED_FROM_CHANNEL,
            Error::NotMessageSender(_) => UNAUTHORIZED,
            Error::InvalidPrivateData(_) => INVALID_PRIVATE_DATA,
            Error::InvalidPrivateTag(_) => INVALID_PRIVATE_TAG,
            Error::InvalidMemberInfo(_) => INVALID_MEMBER_INFO,
            Error::FileUploadFailed(_) => FILE_UPLOAD_FAILED,
            Error::FileTooLarge(_) => FILE_TOO_LARGE,
            Error::Internal(_) => INTERNAL,
            Error::Unavailable(_) => UNAVAILABLE,
        }
    }

    /// True for failures on our side; those are logged, and their detail is not sent.
    pub fn is_server_fault(&self) -> bool {
        matches!(
            self,
            Error::Internal(_) | Error::Unavailable(_) | Error::FileUploadFailed(_)
        )
    }

    /// The message put in the response body.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal(_) => "InternalServerError".to_owned(),
            Error::Unavailable(_) => "storage is busy or unavailable, retry later".to_owned(),
            Error::FileUploadFailed(_) => "FileUploadFail: the file could not be stored".to_owned(),
            other => other.to_string(),
        }
    }

    /// The TalkPlus error body: `{"error":true,"code":"NNNN","message":"...","requestId":"..."}`.
    pub fn body(&self, request_id: &str) -> ErrorBody {
        ErrorBody {
            error: true,
            code: self.spec().code,
            message: self.public_message(),
            request_id: request_id.to_owned(),
        }
    }
}

/// The TalkPlus error body. `code` is a string of four digits.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub error: bool,
    #[schema(value_type = String, pattern = "^[0-9]{4}$")]
    pub code: &'static str,
    pub message: String,
    pub request_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthorized_body_matches_the_seed_page_plus_request_id() {
        let body = serde_json::to_value(Error::Unauthorized.body("req-1")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": true, "code": "1006", "message": "Unauthorized", "requestId": "req-1"})
        );
    }

    #[test]
    fn internal_detail_is_never_sent() {
        let err = Error::Internal("connection refused to 10.0.0.1".into());
        let body = serde_json::to_string(&err.body("r")).unwrap();
        assert!(!body.contains("10.0.0.1"), "{body}");
        assert_eq!(err.spec().status, 500);
    }

    #[test]
    fn table_rows_are_distinct_and_codes_are_four_digits() {
        for (i, a) in ERROR_TABLE.iter().enumerate() {
            assert!(a.code.len() == 4 && a.code.bytes().all(|b| b.is_ascii_digit()));
            for b in &ERROR_TABLE[i + 1..] {
                assert!(
                    (a.code, a.status) != (b.code, b.status),
                    "duplicate row {a:?}"
                );
            }
        }
    }
}
