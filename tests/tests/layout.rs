//! The deployment layout agrees with itself: template.yaml routes, the watch router and the
//! function crates; the table in template.yaml and the one the store creates; the error table
//! in code and in the README; the committed API Gateway events.

use std::collections::BTreeSet;

use serde_norway::Value;
use shared::store::schema;
use talkplus_tests::layout::{Route, read, route, router, workspace_root};

fn template() -> Value {
    serde_norway::from_str(&read("template.yaml")).expect("template.yaml parses")
}

/// Resources of type AWS::Serverless::Function.
fn functions(t: &Value) -> Vec<(String, Value)> {
    t["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(k, r)| (k.as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

/// The function a template function is: the `TALKPLUS_FUNCTION` its binary serves.
fn function_name(f: &Value) -> Option<&str> {
    f["Properties"]["Environment"]["Variables"]["TALKPLUS_FUNCTION"].as_str()
}

fn function_crates() -> BTreeSet<String> {
    std::fs::read_dir(workspace_root().join("functions"))
        .expect("functions/")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

/// Functions that are not routes: consumers of the table's change stream.
fn stream_workers(t: &Value) -> BTreeSet<String> {
    workers_of(t, "DynamoDB")
}

/// Functions that are not routes: consumers of a queue.
fn queue_workers(t: &Value) -> BTreeSet<String> {
    workers_of(t, "SQS")
}

/// The WebSocket API's functions: invoked by its routes' integrations, not by SAM events.
fn websocket_functions(t: &Value) -> BTreeSet<String> {
    functions(t)
        .into_iter()
        .filter(|(_, f)| f["Properties"]["Events"].is_null())
        .map(|(_, f)| function_name(&f).unwrap().to_owned())
        .collect()
}

/// Every function that is not a route.
fn workers(t: &Value) -> BTreeSet<String> {
    let mut all = stream_workers(t);
    all.extend(queue_workers(t));
    all.extend(websocket_functions(t));
    all
}

/// The template's resources of `kind`, by logical id.
fn resources_of(t: &Value, kind: &str) -> Vec<(String, Value)> {
    t["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(k, r)| (k.as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

#[test]
fn each_websocket_route_invokes_its_function() {
    let t = template();
    assert_eq!(
        websocket_functions(&t),
        BTreeSet::from([
            "ws-connect".to_owned(),
            "ws-default".to_owned(),
            "ws-disconnect".to_owned()
        ])
    );
    let apis = resources_of(&t, "AWS::ApiGatewayV2::Api");
    assert_eq!(apis.len(), 1);
    assert_eq!(
        apis[0].1["Properties"]["ProtocolType"].as_str(),
        Some("WEBSOCKET")
    );
    let by_name: std::collections::BTreeMap<String, String> = functions(&t)
        .into_iter()
        .map(|(id, f)| (function_name(&f).unwrap().to_owned(), id))
        .collect();
    let integrations: std::collections::BTreeMap<String, String> =
        resources_of(&t, "AWS::ApiGatewayV2::Integration")
            .into_iter()
            .map(|(id, i)| (id, format!("{:?}", i["Properties"]["IntegrationUri"])))
            .collect();
    let permitted: Vec<String> = resources_of(&t, "AWS::Lambda::Permission")
        .into_iter()
        .map(|(_, p)| format!("{:?}", p["Properties"]["FunctionName"]))
        .collect();
    for (key, function) in [
        ("$connect", "ws-connect"),
        ("$disconnect", "ws-disconnect"),
        ("$default", "ws-default"),
    ] {
        let routes: Vec<(String, Value)> = resources_of(&t, "AWS::ApiGatewayV2::Route")
            .into_iter()
            .filter(|(_, r)| r["Properties"]["RouteKey"].as_str() == Some(key))
            .collect();
        assert_eq!(routes.len(), 1, "{key}: one route");
        let target = format!("{:?}", routes[0].1["Properties"]["Target"]);
        let integration = integrations
            .keys()
            .find(|id| target.contains(&format!("${{{id}}}")))
            .unwrap_or_else(|| panic!("{key}: its integration ({target})"));
        let resource = &by_name[function];
        assert!(
            integrations[integration].contains(&format!("${{{resource}.Arn}}")),
            "{key} invokes {resource}"
        );
        assert!(
            permitted.iter().any(|p| p.contains(resource.as_str())),
            "{resource}: API Gateway may invoke it"
        );
    }
}

fn workers_of(t: &Value, source: &str) -> BTreeSet<String> {
    functions(t)
        .into_iter()
        .filter(|(_, f)| {
            f["Properties"]["Events"]
                .as_mapping()
                .is_some_and(|e| e.values().all(|e| e["Type"].as_str() == Some(source)))
        })
        .map(|(_, f)| function_name(&f).unwrap().to_owned())
        .collect()
}

#[test]
fn template_routes_router_and_crates_agree() {
    let t = template();
    assert_eq!(
        stream_workers(&t),
        BTreeSet::from(["sweeper".to_owned(), "webhooks-dispatch".to_owned()]),
        "the stream consumers"
    );
    assert_eq!(
        queue_workers(&t),
        BTreeSet::from(["realtime-fanout".to_owned(), "webhooks-deliver".to_owned()]),
        "the queue consumers"
    );
    let streams = stream_workers(&t);
    let workers = workers(&t);
    let websocket = websocket_functions(&t);
    let mut from_template = Vec::new();
    for (name, f) in functions(&t) {
        let binary = function_name(&f)
            .unwrap_or_else(|| panic!("{name}: Environment.Variables.TALKPLUS_FUNCTION"));
        assert_eq!(
            f["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{name}"
        );
        // One build for all: the routes and the sweeper run `talkplus`, the webhook workers
        // `talkplus-webhooks` (lambda/Cargo.toml); each serves the function it is told.
        let webhook_worker = matches!(
            shared::functions::find(binary),
            Some(
                shared::functions::Function::WebhooksDispatch
                    | shared::functions::Function::WebhooksDeliver
                    | shared::functions::Function::WebSocket
                    | shared::functions::Function::RealtimeFanout
            )
        );
        assert!(
            shared::functions::find(binary).is_some(),
            "{name}: {binary} is in shared::functions"
        );
        assert_eq!(
            f["Metadata"]["BuildProperties"]["Binary"].as_str(),
            Some(if webhook_worker {
                "talkplus-webhooks"
            } else {
                "talkplus"
            }),
            "{name}"
        );
        if websocket.contains(binary) {
            continue;
        }
        let events = f["Properties"]["Events"].as_mapping().expect("Events");
        if workers.contains(binary) {
            assert_eq!(events.len(), 1, "{name}: one source per worker");
        } else {
            // One operation per function: at most one admin route; its client routes (the
            // client API's path, or two where the SDKs have two forms) beside it.
            let admin = events
                .values()
                .filter(|e| {
                    e["Properties"]["Path"]
                        .as_str()
                        .is_some_and(|p| p.starts_with("/v1.4/api/"))
                })
                .count();
            assert!(admin <= 1, "{name}: one admin route per function");
            assert!(events.len() - admin <= 2, "{name}: its client routes");
            match shared::functions::find(binary) {
                Some(shared::functions::Function::Route {
                    admin: a,
                    client: c,
                }) => {
                    assert_eq!(
                        a.is_some(),
                        admin == 1,
                        "{name}: an admin handler for an admin route"
                    );
                    assert_eq!(
                        c.is_some(),
                        events.len() > admin,
                        "{name}: a client handler for client routes"
                    );
                }
                other => panic!("{name}: {binary} is a route, not {other:?}"),
            }
        }
        if streams.contains(binary) {
            let e = events.values().next().unwrap();
            assert!(
                format!("{:?}", e["Properties"]["Stream"]).contains("StreamArn"),
                "{name}: reads the table's stream"
            );
            continue;
        }
        if workers.contains(binary) {
            let e = events.values().next().unwrap();
            let queue = match binary {
                "realtime-fanout" => "RealtimeQueue",
                _ => "WebhookQueue",
            };
            assert!(
                format!("{:?}", e["Properties"]["Queue"]).contains(queue),
                "{name}: reads {queue}"
            );
            assert_eq!(
                e["Properties"]["FunctionResponseTypes"][0].as_str(),
                Some("ReportBatchItemFailures"),
                "{name}: hands back only what failed"
            );
            continue;
        }
        for (_, e) in events {
            assert_eq!(e["Type"].as_str(), Some("HttpApi"), "{name}");
            from_template.push(Route {
                method: e["Properties"]["Method"].as_str().unwrap().to_owned(),
                path: e["Properties"]["Path"].as_str().unwrap().to_owned(),
                function: binary.to_owned(),
            });
        }
    }
    from_template.sort();
    assert_eq!(
        from_template,
        router(),
        "template.yaml routes vs the watch router"
    );

    let mut deployed: BTreeSet<String> = router().into_iter().map(|r| r.function).collect();
    deployed.extend(workers);
    assert_eq!(
        deployed,
        function_crates(),
        "routed functions and workers vs functions/"
    );
    let table: BTreeSet<String> = shared::functions::FUNCTIONS
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect();
    assert_eq!(table, function_crates(), "shared::functions vs functions/");
    let lambda: toml::Table = read("lambda/Cargo.toml").parse().unwrap();
    let bins: BTreeSet<&str> = lambda["bin"]
        .as_array()
        .expect("[[bin]]")
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(bins, BTreeSet::from(["talkplus", "talkplus-webhooks"]));
    for name in function_crates() {
        let manifest: toml::Table = read(&format!("functions/{name}/Cargo.toml"))
            .parse()
            .unwrap();
        assert_eq!(
            manifest["package"]["name"].as_str(),
            Some(name.as_str()),
            "crate name = dir name"
        );
    }
}

#[test]
fn every_function_has_its_own_narrow_policy() {
    let t = template();
    let workers = workers(&t);
    for (name, f) in functions(&t) {
        let worker = workers.contains(function_name(&f).unwrap_or_default());
        let policies = f["Properties"]["Policies"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{name}: Policies"));
        let mut actions = Vec::new();
        for p in policies {
            for s in p["Statement"].as_sequence().expect("Statement") {
                assert_eq!(s["Effect"].as_str(), Some("Allow"));
                let resource = format!("{:?}", s["Resource"]);
                for a in s["Action"].as_sequence().expect("Action list") {
                    let a = a.as_str().unwrap();
                    assert!(!a.contains('*'), "{name}: {a}");
                    // Each service's actions on that service's resource of this stack only.
                    let (service, on) = a.split_once(':').unwrap();
                    let allowed = match service {
                        "dynamodb" => resource.contains("Table"),
                        "sqs" => {
                            resource.contains("WebhookQueue")
                                || resource.contains("WebhookDeadLetterQueue")
                                || resource.contains("RealtimeQueue")
                        }
                        "kms" => on == "Decrypt" && resource.contains("WebhookKey"),
                        // Uploaded files: written, never read or listed.
                        "s3" => on == "PutObject" && resource.contains("FilesBucket"),
                        // Frames to (and closing) this stack's WebSocket connections.
                        "execute-api" => {
                            on == "ManageConnections"
                                && resource.contains("WebSocketApi")
                                && resource.contains("@connections")
                        }
                        _ => false,
                    };
                    assert!(allowed, "{name}: {a} on {resource}");
                    actions.push(a.to_owned());
                }
            }
        }
        assert!(
            worker || actions.contains(&"dynamodb:GetItem".to_owned()),
            "{name}: authentication reads the app"
        );
        // The rate limiter writes its counters, and only those, from every function.
        let counters = policies
            .iter()
            .flat_map(|p| p["Statement"].as_sequence().unwrap().iter())
            .any(|s| {
                s["Action"].as_sequence().unwrap().len() == 1
                    && s["Action"][0].as_str() == Some("dynamodb:UpdateItem")
                    && s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"][0].as_str()
                        == Some("*#RATE#*")
            });
        assert!(
            worker || counters,
            "{name}: UpdateItem on the rate counters only"
        );
        assert!(shared::store::keys::rate_pk("app", "admin", 1, 0).contains("#RATE#"));
        for broad in [
            "dynamodb:Scan",
            "dynamodb:DeleteTable",
            "dynamodb:CreateTable",
        ] {
            assert!(
                !actions.contains(&broad.to_owned()),
                "{name} must not have {broad}"
            );
        }
    }
}

#[test]
fn template_table_matches_the_store_schema() {
    let t = template();
    let table = &t["Resources"]["Table"]["Properties"];
    assert_eq!(table["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    let keys = |v: &Value| -> Vec<(String, String)> {
        v.as_sequence()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["AttributeName"].as_str().unwrap().to_owned(),
                    k["KeyType"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let pair = |a: &str, b: &str| {
        vec![
            (a.to_owned(), "HASH".to_owned()),
            (b.to_owned(), "RANGE".to_owned()),
        ]
    };
    assert_eq!(keys(&table["KeySchema"]), pair(schema::PK, schema::SK));
    let gsis = table["GlobalSecondaryIndexes"].as_sequence().unwrap();
    assert_eq!(gsis.len(), 1);
    assert_eq!(
        table["StreamSpecification"]["StreamViewType"].as_str(),
        Some("NEW_AND_OLD_IMAGES"),
        "the sweeper (and webhooks) read the change stream"
    );
    assert_eq!(gsis[0]["IndexName"].as_str(), Some(schema::GSI1));
    assert_eq!(
        keys(&gsis[0]["KeySchema"]),
        pair(schema::GSI1_PK, schema::GSI1_SK)
    );
    assert_eq!(
        gsis[0]["Projection"]["ProjectionType"].as_str(),
        Some("ALL")
    );
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(schema::TTL_ATTRIBUTE)
    );
    assert_eq!(
        table["TimeToLiveSpecification"]["Enabled"].as_bool(),
        Some(true)
    );
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );
}

#[test]
fn readme_error_table_matches_the_code() {
    // Rows look like: | 1006 | 401 | Unauthorized | ... |
    let readme = read("README.md");
    let documented: BTreeSet<(String, u16)> = readme
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let code = cells.get(1)?;
            let status = cells.get(2)?.parse().ok()?;
            (code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit()))
                .then(|| (code.to_string(), status))
        })
        .collect();
    let in_code: BTreeSet<(String, u16)> = shared::error::ERROR_TABLE
        .iter()
        .map(|s| (s.code.to_owned(), s.status))
        .collect();
    assert_eq!(
        documented, in_code,
        "README error table vs shared::error::ERROR_TABLE"
    );
}

#[test]
fn committed_events_are_api_gateway_v2_requests_for_their_function() {
    let dir = workspace_root().join("events");
    let mut covered = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("events/") {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // events/worker/: stream records and queue messages for the workers.
            continue;
        }
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let req = lambda_http::request::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not an API Gateway event: {e}", path.display()));
        let (r, params) = route(req.method().as_str(), req.uri().path()).unwrap_or_else(|| {
            panic!(
                "{}: no route for {} {}",
                path.display(),
                req.method(),
                req.uri().path()
            )
        });
        assert!(
            name.starts_with(&r.function),
            "{name} routes to {}",
            r.function
        );
        let given = lambda_http::RequestExt::path_parameters(&req);
        for (k, v) in params {
            assert_eq!(
                given.first(&k),
                Some(v.as_str()),
                "{name}: pathParameters.{k}"
            );
        }
        covered.insert(r.function);
    }
    let t = template();
    let workers = workers(&t);
    for w in &workers {
        let text = read(&format!("events/worker/{w}.json"));
        let event: serde_json::Value = serde_json::from_str(&text).expect("worker event JSON");
        let meaningful = match w.as_str() {
            "sweeper" => !shared::handlers::sweeper::tombstones(&event).is_empty(),
            "webhooks-dispatch" => !shared::webhooks::records::changes(
                &shared::webhooks::records::lambda_records(&event).expect("stream records"),
            )
            .is_empty(),
            "webhooks-deliver" => shared::webhooks::deliver::lambda_messages(&event)
                .iter()
                .all(|m| serde_json::from_str::<shared::webhooks::Job>(&m.body).is_ok()),
            "realtime-fanout" => shared::webhooks::deliver::lambda_messages(&event)
                .iter()
                .all(|m| serde_json::from_str::<shared::realtime::chunks::Chunk>(&m.body).is_ok()),
            ws @ ("ws-connect" | "ws-disconnect" | "ws-default") => {
                shared::realtime::gateway::WsEvent::parse(&event)
                    .is_some_and(|e| e.route_key == format!("${}", ws.trim_start_matches("ws-")))
            }
            other => panic!("{other}: a worker this test does not know"),
        };
        assert!(
            meaningful,
            "events/worker/{w}.json: an event its worker acts on"
        );
    }
    let routed: BTreeSet<String> = function_crates()
        .into_iter()
        .filter(|f| !workers.contains(f))
        .collect();
    assert_eq!(covered, routed, "one event per function at least");
}

/// `openapi.yaml` as the code generates it.
fn generated_openapi() -> String {
    let doc = serde_json::to_value(shared::openapi::document()).expect("document serializes");
    format!(
        "# Generated from the code (shared/src/openapi.rs): run `make openapi` after changing a\n\
         # route, a handler's #[utoipa::path] or a wire type. tests/tests/layout.rs checks it.\n{}",
        serde_norway::to_string(&doc).expect("document as YAML")
    )
}

#[test]
fn openapi_yaml_is_what_the_code_generates() {
    let generated = generated_openapi();
    let path = workspace_root().join("openapi.yaml");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write openapi.yaml");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.yaml differs from the code; run `make openapi` and commit the result"
    );
    let parsed: Value = serde_norway::from_str(&committed).expect("openapi.yaml parses");
    assert_eq!(parsed["openapi"].as_str(), Some("3.1.0"));
}

#[test]
fn openapi_has_every_route_with_its_function_as_operation_id() {
    let ops: Vec<Route> = shared::openapi::operations(&shared::openapi::document())
        .into_iter()
        .map(|(method, path, function)| Route {
            method,
            path,
            function,
        })
        .collect();
    assert_eq!(ops, router(), "openapi operations vs the routes");
}

#[test]
fn openapi_documents_each_code_with_its_status() {
    // Every (code, status) of the error table is named under that status somewhere, and
    // nothing is named that the table does not have.
    let doc = serde_json::to_value(shared::openapi::document()).unwrap();
    let mut documented = BTreeSet::new();
    // The client API answers every error with 500: its codes must be the table's, whatever
    // status the admin API gives them.
    let mut client_codes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let client = shared::openapi::is_client_path(path);
        for op in item.as_object().unwrap().values() {
            for (status, resp) in op["responses"].as_object().unwrap() {
                let description = resp["description"].as_str().unwrap_or_default();
                if client {
                    assert!(
                        status == "200" || status == "500",
                        "{path}: the client API answers 200 or 500, not {status}"
                    );
                }
                for code in description.split('`').skip(1).step_by(2) {
                    if code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit()) {
                        if client {
                            client_codes.insert(code.to_owned());
                        } else {
                            documented.insert((code.to_owned(), status.parse::<u16>().unwrap()));
                        }
                    }
                }
                if status != "200" {
                    assert_eq!(
                        resp["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{status} answers the TalkPlus error body"
                    );
                }
            }
        }
    }
    let table: BTreeSet<(String, u16)> = shared::error::ERROR_TABLE
        .iter()
        .map(|s| (s.code.to_owned(), s.status))
        .collect();
    // Codes only the client API answers (sessions, permissions, join rules) are in the table
    // under the status the admin API would give them; each is documented for the client.
    let client_only = [
        "1007", "1013", "1014", "1015", "2005", "2006", "2011", "2014", "2015", "2018", "2023",
        "2024", "2031", "3001", "3002", "3006", "3009",
    ];
    for code in client_only {
        assert!(
            client_codes.contains(code),
            "{code} documented on the client API"
        );
    }
    let admin_table: BTreeSet<(String, u16)> = table
        .iter()
        .filter(|(c, _)| !client_only.contains(&c.as_str()))
        .cloned()
        .collect();
    assert_eq!(documented, admin_table, "codes in openapi vs ERROR_TABLE");
    let codes: BTreeSet<String> = table.iter().map(|(c, _)| c.clone()).collect();
    assert!(
        client_codes.is_subset(&codes),
        "client codes not in ERROR_TABLE: {:?}",
        client_codes.difference(&codes).collect::<Vec<_>>()
    );
}
