//! The resource filter: `type:id`, `type:*` or a bare id, applied on Enter.

use leptos::prelude::*;

use crate::components::FieldFilter;
use crate::filter::{Filter, ResourcePattern};

#[component]
pub fn ResourceFilter() -> impl IntoView {
    fn read(f: &Filter) -> Option<String> {
        f.resource.as_ref().map(ToString::to_string)
    }
    fn write(f: &mut Filter, value: Option<&str>) -> Result<(), String> {
        f.resource = value.map(ResourcePattern::parse).transpose()?;
        Ok(())
    }
    view! {
        <FieldFilter label="Resource" testid="resource-filter" placeholder="type:id, type:*, or id"
            class="resource-filter" read write/>
    }
}
