//! The IP filter: one address (`203.0.113.7`) or a CIDR block (`10.0.0.0/8`), applied on Enter.

use leptos::prelude::*;

use crate::components::FieldFilter;
use crate::filter::{Filter, IpBlock};

#[component]
pub fn IpFilter() -> impl IntoView {
    fn read(f: &Filter) -> Option<String> {
        f.ip.as_ref().map(ToString::to_string)
    }
    fn write(f: &mut Filter, value: Option<&str>) -> Result<(), String> {
        f.ip = value.map(IpBlock::parse).transpose()?;
        Ok(())
    }
    view! {
        <FieldFilter label="IP" testid="ip-filter" placeholder="address or CIDR"
            class="ip-filter" read write/>
    }
}
