//! Retries the SDK does not do. The SDK's standard mode retries throttling and transient
//! network errors a few times per call; real DynamoDB also cancels transactions with
//! `TransactionConflict` under contention, which the SDK hands straight back. This loop
//! retries both kinds with full-jitter exponential backoff and gives up inside a time budget
//! that leaves room in the function's timeout (see template.yaml), after which the caller
//! answers `503`/`1003`.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// Total time spent retrying one store operation, after which it gives up.
pub const RETRY_BUDGET: Duration = Duration::from_secs(3);
pub const MAX_ATTEMPTS: u32 = 8;
const BASE_DELAY: Duration = Duration::from_millis(20);
const MAX_DELAY: Duration = Duration::from_millis(400);

const RETRYABLE_CODES: &[&str] = &[
    "TransactionConflictException",
    "TransactionInProgressException",
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
];

/// True when trying the same call again may succeed.
pub fn is_retryable<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    match err {
        SdkError::ServiceError(ctx) => {
            let e = ctx.err();
            match e.code() {
                Some(code) if RETRYABLE_CODES.contains(&code) => true,
                // Cancellation reasons are listed in the message; a cancellation caused by a
                // failed condition is an answer, not a transient failure.
                Some("TransactionCanceledException") => {
                    let msg = e.message().unwrap_or_default();
                    !msg.contains("ConditionalCheckFailed")
                        && (msg.contains("TransactionConflict") || msg.contains("Throttling"))
                }
                _ => false,
            }
        }
        // Timeouts and dispatch failures were already retried by the SDK's standard mode.
        _ => false,
    }
}

/// Delay before retry number `attempt` (0-based): uniform in [0, min(cap, base * 2^attempt)].
pub fn backoff(attempt: u32, random: u32) -> Duration {
    let ceiling = BASE_DELAY
        .saturating_mul(1u32 << attempt.min(16))
        .min(MAX_DELAY);
    ceiling.mul_f64(f64::from(random) / f64::from(u32::MAX))
}

fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    // A failing OS generator only costs the jitter.
    let _ = getrandom::fill(&mut b);
    u32::from_le_bytes(b)
}

/// Sleeps before retry number `attempt` of work the SDK does not retry by itself (such as
/// a batch's unprocessed keys).
pub async fn pause(attempt: u32) {
    tokio::time::sleep(backoff(attempt, random_u32())).await;
}

/// Runs `call` until it succeeds, fails with a non-retryable error, or the attempts or the
/// time budget run out; returns the last outcome.
pub async fn retrying<T, E, R, F, Fut>(mut call: F) -> Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, R>>>,
{
    let start = Instant::now();
    let mut attempt = 0;
    loop {
        match call().await {
            Err(err) if is_retryable(&err) && attempt + 1 < MAX_ATTEMPTS => {
                let delay = backoff(attempt, random_u32());
                if start.elapsed() + delay >= RETRY_BUDGET {
                    return Err(err);
                }
                tracing::debug!(attempt, code = ?err.code(), "retrying DynamoDB call");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

/// True when a conditional write was refused because its condition did not hold: an answer
/// about the data (the id is taken, the item is gone), not a failure.
pub fn condition_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

/// The outcome of a conditional write whose refusal is an answer, not an error: `true` if it
/// was applied, `false` if its condition failed.
pub fn applied<T, E, R>(res: Result<T, SdkError<E, R>>, what: &str) -> Result<bool, crate::Error>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match res {
        Ok(_) => Ok(true),
        Err(e) if condition_failed(&e) => Ok(false),
        Err(e) => Err(storage_error(what, e)),
    }
}

/// Maps an SDK error that the caller did not handle to the API error.
pub fn storage_error<E, R>(what: &str, err: SdkError<E, R>) -> crate::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let retryable = is_retryable(&err);
    let transient = matches!(
        err,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
    );
    let detail = format!(
        "{what}: {}",
        aws_smithy_types::error::display::DisplayErrorContext(&err)
    );
    if retryable || transient {
        crate::Error::Unavailable(detail)
    } else {
        crate::Error::Internal(detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;
    use std::cell::Cell;

    type Err = SdkError<PutItemError, Response>;

    fn service_error(code: &str, message: &str) -> Err {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        let raw = Response::new(StatusCode::try_from(400).unwrap(), SdkBody::empty());
        SdkError::service_error(PutItemError::generic(meta), raw)
    }

    #[test]
    fn classifies_what_is_worth_retrying() {
        for code in RETRYABLE_CODES {
            assert!(is_retryable(&service_error(code, "")), "{code}");
        }
        let conflict = "Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]";
        assert!(is_retryable(&service_error(
            "TransactionCanceledException",
            conflict
        )));
        let condition = "Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, TransactionConflict]";
        assert!(!is_retryable(&service_error(
            "TransactionCanceledException",
            condition
        )));
        let cond = service_error(
            "ConditionalCheckFailedException",
            "The conditional request failed",
        );
        assert!(!is_retryable(&cond));
        assert!(condition_failed(&cond));
        assert!(!condition_failed(&service_error("ThrottlingException", "")));
        assert!(!is_retryable(&service_error("ValidationException", "bad")));
    }

    #[test]
    fn storage_errors_map_to_503_when_transient_and_500_otherwise() {
        let busy = storage_error("op", service_error("ThrottlingException", "slow down"));
        assert_eq!(busy.spec().status, 503);
        let bug = storage_error("op", service_error("ValidationException", "bad"));
        assert_eq!(bug.spec().status, 500);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_conflicts_until_success() {
        let calls = Cell::new(0);
        let out: Result<u32, Err> = retrying(|| {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(service_error("TransactionConflictException", ""))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(out.unwrap(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_retry_answers_and_gives_up_within_bounds() {
        let calls = Cell::new(0);
        let out: Result<(), Err> = retrying(|| {
            calls.set(calls.get() + 1);
            async { Err(service_error("ConditionalCheckFailedException", "")) }
        })
        .await;
        assert!(condition_failed(&out.unwrap_err()));
        assert_eq!(calls.get(), 1);

        let calls = Cell::new(0);
        let start = Instant::now();
        let out: Result<(), Err> = retrying(|| {
            calls.set(calls.get() + 1);
            async { Err(service_error("ThrottlingException", "")) }
        })
        .await;
        assert!(out.is_err());
        assert!(
            calls.get() <= MAX_ATTEMPTS as usize && calls.get() > 1,
            "{}",
            calls.get()
        );
        assert!(start.elapsed() < RETRY_BUDGET, "{:?}", start.elapsed());
    }

    #[test]
    fn backoff_is_bounded_and_grows() {
        assert_eq!(backoff(0, 0), Duration::ZERO);
        assert_eq!(backoff(0, u32::MAX), BASE_DELAY);
        assert_eq!(backoff(3, u32::MAX), BASE_DELAY * 8);
        assert_eq!(backoff(30, u32::MAX), MAX_DELAY);
        for a in 0..MAX_ATTEMPTS {
            assert!(backoff(a, random_u32()) <= MAX_DELAY);
        }
    }
}
