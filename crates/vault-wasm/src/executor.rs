//! A single-threaded executor that polls a task *as soon as it can make progress*, instead of in
//! a later microtask.
//!
//! `wasm_bindgen_futures::future_to_promise` polls a future first in a queued microtask, and
//! again in another queued microtask each time it is woken. For an IndexedDB call that means the
//! request is issued one hop after the JavaScript call, and its result is handled one hop after
//! the browser's `success` event. Here:
//!
//! - [`spawn`] polls the new task at once, so an IndexedDB request is issued during the
//!   JavaScript call that asked for it (as a plain-JavaScript wrapper such as `idb-keyval` does);
//! - a wake from outside any poll (an IndexedDB event handler, a resolved `Promise`) polls the
//!   task right there, so the result reaches JavaScript during the same event dispatch;
//! - a wake that happens *during* a poll (one task releasing a lock another waits on) is queued
//!   and run once the current poll returns: polls never nest, so no task is ever polled
//!   re-entrantly.
//!
//! Spurious wakes only cost a poll. Everything is thread-local: wasm32 has one thread, and on a
//! native target (where this module is unit-tested) every thread has its own executor.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

type Task = Pin<Box<dyn Future<Output = ()>>>;

#[derive(Default)]
struct Slot {
    /// `None` while the task is being polled, or once it finished.
    task: Option<Task>,
    /// Bumped when the slot is reused, so a stale waker cannot poll its successor.
    generation: u64,
}

#[derive(Default)]
struct Executor {
    slots: Vec<Slot>,
    free: Vec<usize>,
    ready: VecDeque<(usize, u64)>,
}

thread_local! {
    static EXECUTOR: RefCell<Executor> = RefCell::new(Executor::default());
    static RUNNING: Cell<bool> = const { Cell::new(false) };
}

struct TaskWaker {
    slot: usize,
    generation: u64,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        schedule(self.slot, self.generation);
    }
}

/// Runs `future` to completion, polling it first before returning.
pub fn spawn(future: impl Future<Output = ()> + 'static) {
    let (slot, generation) = EXECUTOR.with(|executor| {
        let mut executor = executor.borrow_mut();
        let slot = match executor.free.pop() {
            Some(slot) => slot,
            None => {
                executor.slots.push(Slot::default());
                executor.slots.len() - 1
            }
        };
        let entry = &mut executor.slots[slot];
        entry.task = Some(Box::pin(future));
        (slot, entry.generation)
    });
    schedule(slot, generation);
}

fn schedule(slot: usize, generation: u64) {
    EXECUTOR.with(|executor| executor.borrow_mut().ready.push_back((slot, generation)));
    if !RUNNING.with(Cell::get) {
        run();
    }
}

/// Polls ready tasks until none is left. Never nests: a wake during a poll only queues.
fn run() {
    RUNNING.with(|running| running.set(true));
    loop {
        let next = EXECUTOR.with(|executor| {
            let mut executor = executor.borrow_mut();
            while let Some((slot, generation)) = executor.ready.pop_front() {
                let entry = &mut executor.slots[slot];
                if entry.generation == generation {
                    if let Some(task) = entry.task.take() {
                        return Some((slot, generation, task));
                    }
                }
            }
            None
        });
        let Some((slot, generation, mut task)) = next else {
            break;
        };
        let waker = Waker::from(Arc::new(TaskWaker { slot, generation }));
        let finished = task
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_ready();
        EXECUTOR.with(|executor| {
            let mut executor = executor.borrow_mut();
            if finished {
                let entry = &mut executor.slots[slot];
                entry.generation += 1;
                executor.free.push(slot);
            } else {
                executor.slots[slot].task = Some(task);
            }
        });
    }
    RUNNING.with(|running| running.set(false));
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::channel::oneshot;
    use std::rc::Rc;
    use std::task::Poll;

    #[test]
    fn first_poll_happens_inside_spawn() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let seen = log.clone();
        spawn(async move { seen.borrow_mut().push("polled") });
        log.borrow_mut().push("after spawn");
        assert_eq!(*log.borrow(), ["polled", "after spawn"]);
    }

    #[test]
    fn an_outside_wake_polls_at_once() {
        let (send, recv) = oneshot::channel::<u32>();
        let got = Rc::new(Cell::new(0));
        let seen = got.clone();
        spawn(async move { seen.set(recv.await.unwrap()) });
        assert_eq!(got.get(), 0, "the task waits");
        send.send(7).unwrap();
        assert_eq!(
            got.get(),
            7,
            "sending woke and finished the task synchronously"
        );
    }

    #[test]
    fn a_wake_during_a_poll_runs_after_it_without_nesting() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let (send, recv) = oneshot::channel::<()>();
        let waiter_log = log.clone();
        spawn(async move {
            recv.await.unwrap();
            waiter_log.borrow_mut().push("waiter resumed");
        });
        let (go, gate) = oneshot::channel::<()>();
        let sender_log = log.clone();
        spawn(async move {
            gate.await.unwrap();
            send.send(()).unwrap();
            // Still inside this poll: the waiter must not have run yet.
            sender_log.borrow_mut().push("sender done");
        });
        go.send(()).unwrap();
        assert_eq!(*log.borrow(), ["sender done", "waiter resumed"]);
    }

    #[test]
    fn slots_are_reused_and_stale_wakers_do_nothing() {
        let stale = Rc::new(RefCell::new(None::<Waker>));
        let keep = stale.clone();
        spawn(std::future::poll_fn(move |cx| {
            *keep.borrow_mut() = Some(cx.waker().clone());
            Poll::Ready(())
        }));
        let polls = Rc::new(Cell::new(0));
        let counted = polls.clone();
        let (_send, recv) = oneshot::channel::<()>();
        let mut recv = Some(recv);
        spawn(std::future::poll_fn(move |cx| {
            counted.set(counted.get() + 1);
            let _ = Pin::new(recv.as_mut().unwrap()).poll(cx);
            Poll::<()>::Pending
        }));
        assert_eq!(polls.get(), 1);
        stale.borrow_mut().take().unwrap().wake();
        assert_eq!(
            polls.get(),
            1,
            "the finished task's waker did not poll the new task"
        );
    }
}
