//! A first-come, first-served turn queue: the order in which JavaScript *issued* calls on a
//! session is the order in which they run.
//!
//! A call takes its [`Ticket`] synchronously, inside the JavaScript call that made it, and
//! awaits its [`Turn`] later. A general async mutex (such as `futures::lock::Mutex`) hands the
//! lock to whichever waiter polls first, and wakes waiters in slot order, not arrival order: a
//! call issued in the `then` callback of a call in flight could run before an earlier `lock()`
//! and still use the keys. Here nothing overtakes: once `lock()` has been issued, every call
//! issued after it runs after it.
//!
//! Single-threaded (wasm32 has one thread; natively, where it is unit-tested, each queue stays
//! on the thread that made it).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct State {
    next: Cell<u64>,
    serving: Cell<u64>,
    waiting: RefCell<BTreeMap<u64, Waker>>,
    /// Tickets dropped before their turn: skipped when reached.
    abandoned: RefCell<BTreeSet<u64>>,
}

impl State {
    /// Ends the current turn and wakes the next ticket still wanted.
    fn advance(&self) {
        let mut serving = self.serving.get() + 1;
        while self.abandoned.borrow_mut().remove(&serving) {
            serving += 1;
        }
        self.serving.set(serving);
        if let Some(waker) = self.waiting.borrow_mut().remove(&serving) {
            waker.wake();
        }
    }
}

/// The queue.
#[derive(Clone, Default)]
pub struct Queue {
    state: Rc<State>,
}

impl Queue {
    /// A place in line, taken now.
    pub fn ticket(&self) -> Ticket {
        let number = self.state.next.get();
        self.state.next.set(number + 1);
        Ticket {
            state: Some(self.state.clone()),
            number,
        }
    }
}

/// A place in line; await [`Ticket::turn`] to run.
pub struct Ticket {
    state: Option<Rc<State>>,
    number: u64,
}

impl Ticket {
    /// Resolves when every ticket taken before this one has finished its turn.
    pub fn turn(self) -> WaitTurn {
        WaitTurn { ticket: Some(self) }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let Some(state) = self.state.take() else {
            return;
        };
        if state.serving.get() == self.number {
            state.advance();
        } else {
            state.waiting.borrow_mut().remove(&self.number);
            state.abandoned.borrow_mut().insert(self.number);
        }
    }
}

/// The future of [`Ticket::turn`].
pub struct WaitTurn {
    ticket: Option<Ticket>,
}

impl Future for WaitTurn {
    type Output = Turn;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Turn> {
        let Some(ticket) = self.ticket.as_mut() else {
            return Poll::Pending;
        };
        let Some(state) = ticket.state.as_ref() else {
            return Poll::Pending;
        };
        if state.serving.get() == ticket.number {
            let state = ticket.state.take();
            self.ticket = None;
            Poll::Ready(Turn { state })
        } else {
            state
                .waiting
                .borrow_mut()
                .insert(ticket.number, cx.waker().clone());
            Poll::Pending
        }
    }
}

/// A running turn: the next ticket runs once this is dropped.
pub struct Turn {
    state: Option<Rc<State>>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            state.advance();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::channel::oneshot;
    use futures::task::LocalSpawnExt;

    #[test]
    fn turns_follow_ticket_order_whatever_the_poll_order() {
        let mut pool = futures::executor::LocalPool::new();
        let queue = Queue::default();
        let log = Rc::new(RefCell::new(Vec::new()));
        let (release, held) = oneshot::channel::<()>();
        let first = queue.ticket();
        let tickets: Vec<_> = (1..5).map(|_| queue.ticket()).collect();
        let spawner = pool.spawner();
        let l = log.clone();
        spawner
            .spawn_local(async move {
                let _turn = first.turn().await;
                held.await.unwrap();
                l.borrow_mut().push(0);
            })
            .unwrap();
        // Spawned (and so polled) in reverse order: still run in ticket order.
        for (i, ticket) in tickets.into_iter().enumerate().rev() {
            let l = log.clone();
            spawner
                .spawn_local(async move {
                    let _turn = ticket.turn().await;
                    l.borrow_mut().push(i + 1);
                })
                .unwrap();
        }
        pool.run_until_stalled();
        assert!(log.borrow().is_empty(), "all wait behind the first");
        // A ticket taken now, while the others wait, goes last.
        let late = queue.ticket();
        let l = log.clone();
        spawner
            .spawn_local(async move {
                let _turn = late.turn().await;
                l.borrow_mut().push(99);
            })
            .unwrap();
        release.send(()).unwrap();
        pool.run_until_stalled();
        assert_eq!(*log.borrow(), [0, 1, 2, 3, 4, 99]);
    }

    #[test]
    fn an_abandoned_ticket_is_skipped() {
        let mut pool = futures::executor::LocalPool::new();
        let queue = Queue::default();
        let log = Rc::new(RefCell::new(Vec::new()));
        let first = queue.ticket();
        let dropped = queue.ticket();
        let third = queue.ticket();
        let l = log.clone();
        pool.spawner()
            .spawn_local(async move {
                let _turn = third.turn().await;
                l.borrow_mut().push(3);
            })
            .unwrap();
        drop(dropped);
        pool.run_until_stalled();
        assert!(log.borrow().is_empty());
        drop(first);
        pool.run_until_stalled();
        assert_eq!(*log.borrow(), [3]);
    }
}
