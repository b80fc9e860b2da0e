//! Uploaded files: the `file` part of a multipart request (a profile image, a message's file)
//! is stored in the stack's bucket under the app's prefix and answered as a URL: the
//! template's CloudFront distribution on AWS, moto's S3 locally (docs/design.md, "Uploads").

use aws_sdk_s3::primitives::ByteStream;

use crate::Error;

/// The largest file a request may carry. A Lambda function takes at most 6 MB of request,
/// and API Gateway hands it a binary body in base64 (4/3 of its size): 4 MB of file leaves
/// room for the form's other fields. A larger body is refused before the function (413).
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
/// Characters of a stored file name (the rest of the client's name is cut).
const MAX_NAME_CHARS: usize = 100;

pub const BUCKET_VAR: &str = "TALKPLUS_FILES_BUCKET";
pub const URL_VAR: &str = "TALKPLUS_FILES_URL";

/// A file a request carried.
pub struct Upload {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Where uploaded files go.
#[derive(Clone, Debug)]
pub struct FileStore {
    client: aws_sdk_s3::Client,
    bucket: String,
    base_url: String,
    /// Objects are put readable by anyone: a local S3 look-alike (moto) serves them itself.
    /// On AWS the bucket is private (ACLs off) and CloudFront reads it.
    public_objects: bool,
}

impl FileStore {
    /// `base_url`: what a stored key is appended to for the answer's URL.
    pub fn new(client: aws_sdk_s3::Client, bucket: &str, base_url: &str) -> FileStore {
        FileStore {
            client,
            bucket: bucket.to_owned(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            public_objects: false,
        }
    }

    /// From `TALKPLUS_FILES_BUCKET` and `TALKPLUS_FILES_URL` (the functions that take
    /// uploads have them); `None` elsewhere. Path-style addressing when an S3 endpoint is
    /// set (`AWS_ENDPOINT_URL_S3`: moto in `make dev`).
    pub fn from_env(config: &aws_config::SdkConfig) -> Option<FileStore> {
        let bucket = std::env::var(BUCKET_VAR).ok().filter(|v| !v.is_empty())?;
        let url = std::env::var(URL_VAR).ok().filter(|v| !v.is_empty())?;
        let local = std::env::var("AWS_ENDPOINT_URL_S3").is_ok_and(|v| !v.is_empty());
        Some(FileStore::for_config(config, &bucket, &url, local))
    }

    /// A store over `config`'s S3; `local` for an S3 look-alike (moto) at one address, which
    /// serves the files itself (path-style addressing, objects readable by anyone).
    pub fn for_config(
        config: &aws_config::SdkConfig,
        bucket: &str,
        base_url: &str,
        local: bool,
    ) -> FileStore {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(local)
            .build();
        FileStore {
            public_objects: local,
            ..FileStore::new(aws_sdk_s3::Client::from_conf(s3), bucket, base_url)
        }
    }

    /// Stores `upload` under `{app}/{128 random bits}/{name}` and answers its URL: anyone with
    /// the URL can read the file (as with TalkPlus's file URLs), nobody can guess it. One
    /// `PutObject`.
    pub async fn put(&self, app_id: &str, upload: Upload) -> Result<String, Error> {
        let key = format!(
            "{app_id}/{}/{}",
            crate::secrets::random_hex(16),
            stored_name(&upload.file_name)
        );
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type(&upload.content_type)
            .set_acl(
                self.public_objects
                    .then_some(aws_sdk_s3::types::ObjectCannedAcl::PublicRead),
            )
            .body(ByteStream::from(upload.bytes))
            .send()
            .await
            .map_err(|e| {
                Error::FileUploadFailed(format!(
                    "put {key}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(e)
                ))
            })?;
        Ok(format!("{}/{key}", self.base_url))
    }

    /// Creates the bucket unless it exists (`make dev` and the tests; on AWS the template
    /// makes it).
    pub async fn ensure_bucket(&self) -> Result<(), Error> {
        match self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()
                }) =>
            {
                Ok(())
            }
            Err(e) => Err(Error::FileUploadFailed(format!(
                "create bucket {}: {}",
                self.bucket,
                aws_sdk_s3::error::DisplayErrorContext(e)
            ))),
        }
    }
}

/// A file name safe in a key and a URL: letters, digits, `.`, `_` and `-` kept, anything
/// else `_`, at most 100 characters; `file` when nothing is left.
pub fn stored_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let safe: String = base
        .chars()
        .take(MAX_NAME_CHARS)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.trim_matches(['.', '_']).is_empty() {
        "file".to_owned()
    } else {
        safe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_are_safe_in_a_url() {
        assert_eq!(stored_name("photo 1.JPG"), "photo_1.JPG");
        assert_eq!(stored_name("../../etc/passwd"), "passwd");
        assert_eq!(stored_name("C:\\x\\데이터.png"), "___.png");
        assert_eq!(stored_name(""), "file");
        assert_eq!(stored_name(".."), "file");
        assert_eq!(stored_name(&"a".repeat(300)).len(), 100);
    }
}
