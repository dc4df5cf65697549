//! Reading a Redfish resource collection whole: its `Members` over every page, following
//! `Members@odata.nextLink` (DSP0266 1.8.1, §9.5.11: present when the service splits the
//! collection over pages), and checked against `Members@odata.count` (§9.5.9: the total
//! number of members of the collection, not of one page). A collection read in part would
//! let discovery take the first page's only system for the only system, and fence it.

use std::collections::HashSet;

use fence_core::{Error, Result};
use serde_json::Value;

use crate::client::{Missing, RedfishClient};

/// The most pages read of one collection: a service whose next links go on past this
/// (or loop) is misbehaving, and discovery must not hang on it.
pub(crate) const MAX_PAGES: usize = 64;

/// The `@odata.id` of every member of the collection at `uri`, over all its pages.
pub(crate) async fn members(client: &RedfishClient, uri: &str) -> Result<Vec<String>> {
    let mut members = Vec::new();
    let mut seen = HashSet::new();
    let mut count = None;
    let mut next = Some(uri.to_owned());
    while let Some(page_uri) = next.take() {
        if !seen.insert(page_uri.clone()) {
            return Err(Error::misbehaved(format!(
                "{}{uri}: the collection's next link leads back to {page_uri}",
                client.base()
            )));
        }
        if seen.len() > MAX_PAGES {
            return Err(Error::misbehaved(format!(
                "{}{uri}: the collection goes on past {MAX_PAGES} pages",
                client.base()
            )));
        }
        let page = client.get_json(&page_uri, Missing::Misbehaved).await?;
        members.extend(
            page_members(&page)
                .map_err(|why| Error::misbehaved(format!("{}{page_uri}: {why}", client.base())))?,
        );
        if count.is_none() {
            // A number, or a number in a string (some BMCs send "2").
            count = match page.get("Members@odata.count") {
                Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
                Some(v) => v.as_u64(),
                None => None,
            };
        }
        next = page
            .get("Members@odata.nextLink")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned);
    }
    match count {
        Some(count) if count != members.len() as u64 => Err(Error::misbehaved(format!(
            "{}{uri}: the collection counts {count} members (Members@odata.count) but {} \
             were read over {} page(s): set systems_uri",
            client.base(),
            members.len(),
            seen.len()
        ))),
        _ => Ok(members),
    }
}

/// The members' `@odata.id`s on one page. A member without one is refused, not skipped: a
/// skipped member could leave one system where there are two.
fn page_members(page: &Value) -> std::result::Result<Vec<String>, String> {
    let Some(list) = page.get("Members") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| "Members is not an array".to_owned())?;
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            m.get("@odata.id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("member {i} has no @odata.id"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn members_without_an_id_are_refused_not_skipped() {
        let ok = json!({"Members": [{"@odata.id": "/a"}, {"@odata.id": "/b"}]});
        assert_eq!(page_members(&ok).unwrap(), ["/a", "/b"]);
        let missing = json!({"Members": [{"@odata.id": "/a"}, {"Id": "b"}]});
        assert_eq!(
            page_members(&missing).unwrap_err(),
            "member 1 has no @odata.id"
        );
        assert!(page_members(&json!({"Members": {}})).is_err());
        assert!(page_members(&json!({})).unwrap().is_empty());
    }
}
