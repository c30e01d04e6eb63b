//! Acting after a pause in typing.

use std::time::Duration;

use leptos::prelude::*;

/// Runs the last of a burst of calls once `pause` has passed without another.
#[derive(Clone, Copy)]
pub struct Debounce {
    pause: Duration,
    latest: StoredValue<u64>,
}

impl Debounce {
    pub fn new(pause: Duration) -> Self {
        Debounce {
            pause,
            latest: StoredValue::new(0),
        }
    }

    /// Schedules `act`; it runs only if no other call comes within the pause.
    pub fn call(self, act: impl FnOnce() + 'static) {
        self.latest.update_value(|n| *n += 1);
        let mine = self.latest.get_value();
        set_timeout(
            move || {
                // Gone with its component (a form closed within the pause): nothing to do.
                if self.latest.try_get_value() == Some(mine) {
                    act();
                }
            },
            self.pause,
        );
    }
}
