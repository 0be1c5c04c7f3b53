# Flag for MicroPython's asyncio: one task wakes another, with a timed wait, and nothing is
# allocated per wait or wake. asyncio.Event allocates a generator per wait, and a timed wait
# through wait_for_ms about 2 KB (a task, a closure and an exception each time), which the
# stack task would pay on every wake while a timer is pending.
#
# It works the scheduler's task queue the way asyncio's own sleep_ms and Event do: a waiting
# task is on no queue (a wait for ever, its `data` this flag, so that Task.cancel() takes it
# off with remove()) or on the task queue until its deadline (a timed wait); set() moves it to
# the front. The flag is its own awaitable (wait() and wait_ms() return it), as sleep_ms's
# SingletonGenerator is, so an await makes no generator (and a task may run it as a
# coroutine); its result comes in a StopIteration made once for all flags. One task waits on a
# flag at a time. Not for IRQs: a ThreadSafeFlag is.

from asyncio import core
from time import ticks_add, ticks_ms

_FOR_EVER = -1
# What a finished wait raises, made once for every flag ([no-alloc]): raised and caught within
# one step of one task, they are never in use twice at once.
_SET = StopIteration(True)
_TIMED_OUT = StopIteration(False)


class Flag:
    def __init__(self):
        self.state = False
        self._waiter = None  # the task waiting, until set() or its deadline
        self._deadline = _FOR_EVER
        self._armed = False  # the waiting task has been put to sleep (its await yielded)

    def set(self):
        self.state = True
        task = self._waiter
        if task is not None:
            self._waiter = None
            if task.data is not self:
                core._task_queue.remove(task)  # asleep until its deadline
            core._task_queue.push(task)  # runs next

    def clear(self):
        self.state = False

    def is_set(self):
        return self.state

    def wait(self):
        """Await until set; clears the flag. True."""
        self._deadline = _FOR_EVER
        return self

    def wait_ms(self, ms):
        """Await until set or `ms` have passed; clears the flag. True when it was set."""
        self._deadline = ticks_add(ticks_ms(), ms)
        return self

    def sleep(self):
        """A step of a hand-made awaitable that waits for ever: False when the flag is set
        (it is clear now), else the task sleeps until set() and this is what the step yields
        (None: the task is on no queue)."""
        if self._armed or self.state:
            self._armed = False
            self._waiter = None
            was_set = self.state
            self.state = False
            if was_set:
                return False
        self._deadline = _FOR_EVER
        self._arm()
        return None

    def abandon(self):
        """The awaitable given up (cancelled) while its task slept in sleep()."""
        self._armed = False
        self._waiter = None

    def _arm(self):
        if self._waiter is not None:
            raise RuntimeError("another task waits on this flag")
        self._armed = True
        task = core.cur_task
        self._waiter = task
        if self._deadline == _FOR_EVER:
            task.data = self
        else:
            core._task_queue.push(task, self._deadline)

    def remove(self, task):
        # Task.cancel() on the task waiting for ever (its `data`): it runs again, cancelled.
        self._waiter = None

    # The awaitable: the first step sleeps (unless the flag is set already), the next one
    # returns whether it was set.

    def __iter__(self):
        return self

    __await__ = __iter__

    def __next__(self):
        if not self._armed and not self.state:
            self._arm()
            return None
        self._armed = False
        self._waiter = None
        done = _SET if self.state else _TIMED_OUT
        self.state = False
        done.__traceback__ = None
        raise done

    def send(self, _value):
        # As a coroutine's: asyncio.create_task and wait_for_ms take the flag's wait as one.
        return self.__next__()

    def throw(self, error):
        # Cancelled while asleep (Task.cancel() has put it back on the task queue).
        self.abandon()
        raise error
