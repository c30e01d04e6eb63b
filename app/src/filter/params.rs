//! The filter's query parameters as one type: what the OpenAPI document states (it derives
//! `IntoParams` on the server) is what [`Filter::parse`](super::Filter::parse) reads. A value is
//! first set here by name ([`FilterQuery::set`], checks of one value alone), then the whole is
//! turned into a [`Filter`] ([`FilterQuery::into_filter`], checks across parameters).

use super::{
    valid_tz, ActionPattern, Exclusion, Filter, FilterError, IpBlock, Order, RelativeRange,
    ResourcePattern, TimeBound, TimeWindow, FILTER_PARAMS, MAX_VALUES, MAX_VALUE_LEN,
};
use crate::model::{Source, Status};

/// The filter's query parameters (see `app::filter`); repeatable ones combine with OR. What
/// one parameter alone must be is stated here; rules across parameters (`range` not with
/// `from`/`to`, `from` not after `to`) are checked by the server with a 400 naming the parameter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct FilterQuery {
    /// Actor id, email (case-insensitive) or name, exactly. Repeatable, at most 50.
    pub user: Option<Vec<String>>,
    /// `user.login`, or `config.*` for every action under `config.`. Repeatable, at most 50.
    pub action: Option<Vec<String>>,
    /// RFC 3339 instant (microseconds at most) or YYYY-MM-DD (inclusive).
    pub from: Option<String>,
    /// RFC 3339 instant (exclusive, microseconds at most) or YYYY-MM-DD (the whole day).
    pub to: Option<String>,
    /// Back from now; not with from/to.
    #[cfg_attr(feature = "ssr", param(inline))]
    pub range: Option<RelativeRange>,
    /// IANA zone for dates (default UTC): one this server's PostgreSQL knows.
    pub tz: Option<String>,
    /// Case-insensitive substring of actor, action, resource, IP, user agent and details.
    pub q: Option<String>,
    /// `type:id`, `type:*` or a bare id.
    pub resource: Option<String>,
    #[cfg_attr(feature = "ssr", param(inline))]
    pub status: Option<Status>,
    /// An address or CIDR block.
    pub ip: Option<String>,
    /// Who recorded the entry: `trailkeep`, or the id of the API key that ingested it.
    pub source: Option<String>,
    /// Newest first (default) or oldest first.
    #[cfg_attr(feature = "ssr", param(inline))]
    pub order: Option<Order>,
    /// Leaves out these actors (as `user` matches them). Repeatable, at most 50.
    pub not_user: Option<Vec<String>>,
    /// Leaves out these actions (`user.login` or `config.*`). Repeatable, at most 50.
    pub not_action: Option<Vec<String>>,
    /// Leaves out these resources (`type:id`, `type:*` or a bare id); entries without a resource
    /// stay. Repeatable, at most 50.
    pub not_resource: Option<Vec<String>>,
    /// Leaves out these addresses or CIDR blocks; entries without an address stay. Repeatable,
    /// at most 50.
    pub not_ip: Option<Vec<String>>,
    /// Leaves out what these sources recorded (`trailkeep` or an API key id). Repeatable, at
    /// most 50.
    pub not_source: Option<Vec<String>>,
}

impl FilterQuery {
    /// Sets parameter `key` (decoded) to `value` (decoded): refuses an unknown name (naming the
    /// known ones and `extra`, the caller's own), a repeated one that is not repeatable, and a
    /// value too long, with control characters, empty (except `q`) or not among an enum's.
    pub fn set(&mut self, key: &str, value: &str, extra: &[&str]) -> Result<(), FilterError> {
        if !FILTER_PARAMS.contains(&key) {
            let mut known: Vec<&str> = FILTER_PARAMS.to_vec();
            known.extend_from_slice(extra);
            return Err(FilterError::new(
                key,
                format!("unknown parameter (known: {})", known.join(", ")),
            ));
        }
        // Length and control characters count before trimming: what the document states.
        if value.chars().count() > MAX_VALUE_LEN {
            return Err(FilterError::new(
                key,
                format!("a value has at most {MAX_VALUE_LEN} characters"),
            ));
        }
        if value.contains(|c: char| c.is_control()) {
            return Err(FilterError::new(key, "must not contain control characters"));
        }
        let value = value.trim();
        if value.is_empty() && key != "q" {
            return Err(FilterError::new(key, "must not be empty"));
        }
        let err = |m: &str| FilterError::new(key, m);
        let once = |slot: &mut Option<String>| match slot {
            Some(_) => Err(err("may be given only once")),
            None => {
                *slot = Some(value.to_string());
                Ok(())
            }
        };
        match key {
            "user" => self.user.get_or_insert_with(Vec::new).push(value.into()),
            "action" => self.action.get_or_insert_with(Vec::new).push(value.into()),
            "not_user" => self
                .not_user
                .get_or_insert_with(Vec::new)
                .push(value.into()),
            "not_action" => self
                .not_action
                .get_or_insert_with(Vec::new)
                .push(value.into()),
            "not_resource" => self
                .not_resource
                .get_or_insert_with(Vec::new)
                .push(value.into()),
            "not_ip" => self.not_ip.get_or_insert_with(Vec::new).push(value.into()),
            "not_source" => self
                .not_source
                .get_or_insert_with(Vec::new)
                .push(value.into()),
            "from" => once(&mut self.from)?,
            "to" => once(&mut self.to)?,
            "tz" => once(&mut self.tz)?,
            "q" => once(&mut self.q)?,
            "resource" => once(&mut self.resource)?,
            "ip" => once(&mut self.ip)?,
            "source" => once(&mut self.source)?,
            "range" => {
                let range = RelativeRange::parse(value)
                    .ok_or_else(|| err("must be one of 15m, 1h, 24h, 7d, 30d, 90d"))?;
                set_once(&mut self.range, range).map_err(|()| err("may be given only once"))?
            }
            "status" => {
                let status =
                    Status::parse(value).ok_or_else(|| err("must be success or failure"))?;
                set_once(&mut self.status, status).map_err(|()| err("may be given only once"))?
            }
            "order" => {
                let order = Order::parse(value).ok_or_else(|| err("must be desc or asc"))?;
                set_once(&mut self.order, order).map_err(|()| err("may be given only once"))?
            }
            _ => unreachable!("checked against FILTER_PARAMS"),
        }
        Ok(())
    }

    /// The filter these parameters name: each value parsed, repeated values sorted and
    /// deduplicated, and the rules across parameters checked.
    pub fn into_filter(self) -> Result<Filter, FilterError> {
        let on = |param: &'static str| move |m: String| FilterError::new(param, m);
        let mut f = Filter::default();
        let n = |v: &Option<Vec<String>>| v.as_ref().map_or(0, Vec::len);
        for (param, n) in [
            ("user", n(&self.user)),
            ("action", n(&self.action)),
            ("not_user", n(&self.not_user)),
            ("not_action", n(&self.not_action)),
            ("not_resource", n(&self.not_resource)),
            ("not_ip", n(&self.not_ip)),
            ("not_source", n(&self.not_source)),
        ] {
            if n > MAX_VALUES {
                return Err(FilterError::new(
                    param,
                    format!("at most {MAX_VALUES} values, got {n}"),
                ));
            }
        }
        f.users = self.user.unwrap_or_default();
        f.users.sort();
        f.users.dedup();
        for a in self.action.unwrap_or_default() {
            f.actions
                .push(ActionPattern::parse(&a).map_err(on("action"))?);
        }
        f.actions.sort();
        f.actions.dedup();
        let from = self
            .from
            .map(|v| TimeBound::parse(&v))
            .transpose()
            .map_err(on("from"))?;
        let to = self
            .to
            .map(|v| TimeBound::parse(&v))
            .transpose()
            .map_err(on("to"))?;
        f.time = match (self.range, from, to) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(FilterError::new(
                    "range",
                    "cannot be combined with from/to: choose a preset or a custom range",
                ))
            }
            (Some(r), None, None) => TimeWindow::Last(r),
            (None, None, None) => TimeWindow::All,
            (None, from, to) => TimeWindow::Between { from, to },
        };
        if let Some(tz) = self.tz {
            if !valid_tz(&tz) {
                return Err(FilterError::new(
                    "tz",
                    format!("{tz:?} is not a time zone name such as Europe/Berlin"),
                ));
            }
            if tz != "UTC" {
                f.tz = Some(tz);
            }
        }
        f.q = self.q.filter(|q| !q.is_empty());
        f.resource = self
            .resource
            .map(|v| ResourcePattern::parse(&v))
            .transpose()
            .map_err(on("resource"))?;
        f.status = self.status;
        f.ip = self
            .ip
            .map(|v| IpBlock::parse(&v))
            .transpose()
            .map_err(on("ip"))?;
        f.source = match self.source {
            None => None,
            Some(v) => Some(Source::parse(&v).ok_or_else(|| {
                FilterError::new(
                    "source",
                    format!(
                        "{v:?} is neither trailkeep nor an API key id \
                         (a UUID such as 0f8a2c1e-5b7d-4e3f-9a6b-1c2d3e4f5a6b)"
                    ),
                )
            })?),
        };
        f.order = self.order.unwrap_or_default();
        let excluded = [
            ("not_user", self.not_user),
            ("not_action", self.not_action),
            ("not_resource", self.not_resource),
            ("not_ip", self.not_ip),
            ("not_source", self.not_source),
        ];
        for (param, values) in excluded {
            for v in values.unwrap_or_default() {
                let x = exclusion(param, &v).map_err(|m| FilterError::new(param, m))?;
                f.exclude.insert(x);
            }
        }
        f.check_order_of_bounds()?;
        Ok(f)
    }
}

/// The value of one `not_*` parameter.
fn exclusion(param: &str, v: &str) -> Result<Exclusion, String> {
    Ok(match param {
        "not_user" => Exclusion::User(v.to_string()),
        "not_action" => Exclusion::Action(ActionPattern::parse(v)?),
        "not_resource" => Exclusion::Resource(ResourcePattern::parse(v)?),
        "not_ip" => Exclusion::Ip(IpBlock::parse(v)?),
        "not_source" => Exclusion::Source(Source::parse(v).ok_or_else(|| {
            format!(
                "{v:?} is neither trailkeep nor an API key id \
                 (a UUID such as 0f8a2c1e-5b7d-4e3f-9a6b-1c2d3e4f5a6b)"
            )
        })?),
        _ => unreachable!("one of the not_ parameters"),
    })
}

/// Stores `value` in an empty slot; `Err(())` if the slot is taken (a repeated parameter).
fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), ()> {
    match slot {
        Some(_) => Err(()),
        None => {
            *slot = Some(value);
            Ok(())
        }
    }
}
