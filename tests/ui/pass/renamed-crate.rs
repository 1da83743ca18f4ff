// `crate = "…"` for a crate that knows sd-notify-core under another name. (Cargo refuses
// one crate depending on a package twice under two names, so the alias is made here;
// ui/edition-2021 checks a real renamed dependency, where `sd_notify_core` does not exist.)
#![deny(warnings, unused_qualifications)]

extern crate sd_notify_core as renamed;

#[renamed::sd_service(crate = "renamed", running = "renamed")]
#[tokio::main(flavor = "current_thread")]
async fn main(service: renamed::ServiceHandle) {
    #[ready]
    let stopping = service.is_stopping();
    assert!(!stopping);
}
