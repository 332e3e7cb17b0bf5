"""StepTask (--task-impl rust): a request coroutine stepped without an asyncio Task, which
asyncio.timeout, asyncio.TaskGroup and anyio's cancel scopes still work under."""

import asyncio
import contextvars

import anyio
import pytest

from granian_ts.tasks import StepTask, cancel_and_wait

VAR = contextvars.ContextVar("VAR", default="unset")


def step(coro):
    """Start `coro` as a StepTask from a loop callback, as a REQUEST frame does; the future
    resolves with the task once it ended."""
    loop = asyncio.get_running_loop()
    ended = loop.create_future()
    holder = {}

    def begin():
        task = holder["task"] = StepTask(loop, coro)
        task.add_done_callback(lambda t: ended.done() or ended.set_result(t))
        task.start()

    loop.call_soon(begin)
    return ended, holder


async def test_a_coroutine_that_never_waits_ends_in_its_first_step():
    seen = []

    async def app():
        seen.append(asyncio.current_task())
        VAR.set("request")
        return 1

    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def begin():
        task = StepTask(loop, app())
        task.start()
        done.set_result((task, task.done()))  # ended inside start(): no loop turn

    loop.call_soon(begin)
    task, ended_at_once = await done
    assert ended_at_once and task.done() and not task.cancelled()
    assert seen == [task]
    assert VAR.get() == "unset"  # the request's context is its own copy


async def test_it_resumes_from_awaited_futures_and_bare_yields_in_its_context():
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    log = []

    async def app():
        VAR.set("mine")
        log.append(await fut)
        await asyncio.sleep(0)
        log.append((VAR.get(), asyncio.current_task() is holder["task"]))
        try:
            await asyncio.sleep(0.001)
            await failing
        except ValueError as exc:
            log.append(str(exc))

    failing = loop.create_future()
    ended, holder = step(app())
    await asyncio.sleep(0)
    assert not holder["task"].done()
    fut.set_result("result")
    failing.set_exception(ValueError("boom"))
    task = await ended
    assert log == ["result", ("mine", True), "boom"]
    assert task.done() and not task.cancelled()
    assert asyncio.current_task() is not task


async def test_cancel_while_waiting_throws_into_the_coroutine():
    caught = []

    async def app():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            caught.append("cancelled")
            raise

    ended, holder = step(app())
    await asyncio.sleep(0.01)
    task = holder["task"]
    assert task.cancel("going") and task.cancelling() == 1
    await ended
    assert caught == ["cancelled"] and task.cancelled()
    assert not task.cancel()  # over


async def test_asyncio_timeout_and_task_group_work_inside_as_in_a_task():
    async def child(n):
        await asyncio.sleep(0.001)
        return n * 2

    async def app(results):
        try:
            async with asyncio.timeout(0.02):
                await asyncio.sleep(10)
        except TimeoutError:
            results.append("timed out")
        async with asyncio.TaskGroup() as tg:
            a = tg.create_task(child(1))
            b = tg.create_task(child(2))
        results.append((a.result(), b.result()))
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(asyncio.sleep(10))
                tg.create_task(_fail())
        except* RuntimeError:
            results.append("group failed")
        # What is left of the group's cancel request (1 on 3.11, as for an asyncio Task).
        results.append(asyncio.current_task().cancelling())

    in_task = []
    await asyncio.get_running_loop().create_task(app(in_task))
    stepped = []
    ended, _ = step(app(stepped))
    task = await ended
    assert stepped[:3] == ["timed out", (2, 4), "group failed"]
    assert stepped == in_task
    assert not task.cancelled()


async def _fail():
    await asyncio.sleep(0.001)
    raise RuntimeError("child failed")


async def test_anyio_cancel_scopes_and_task_groups_work_inside():
    results = []

    async def app():
        with anyio.move_on_after(0.02) as scope:
            await anyio.sleep(10)
        results.append(scope.cancelled_caught)
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.sleep, 0.001)
            tg.start_soon(anyio.sleep, 0.002)
        results.append("group done")
        with anyio.CancelScope() as outer:
            outer.cancel()
            await anyio.sleep(10)
        results.append(outer.cancelled_caught)

    ended, _ = step(app())
    task = await ended
    assert results == [True, "group done", True]
    assert not task.cancelled()


async def test_a_cancel_before_it_waits_lands_at_its_next_wait():
    order = []

    async def app():
        asyncio.current_task().cancel()
        order.append("still running")
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            order.append("cancelled at the wait")

    ended, _ = step(app())
    task = await ended
    assert order == ["still running", "cancelled at the wait"]
    assert not task.cancelled()  # the coroutine caught it and returned


async def test_started_inside_a_task_it_waits_a_turn():
    loop = asyncio.get_running_loop()

    async def app():
        return asyncio.current_task()

    task = StepTask(loop, app())
    task.start()  # this test runs inside a Task: the first step is scheduled instead
    assert not task.done()
    await asyncio.sleep(0)
    assert task.done()


def test_cancel_and_wait_ends_what_is_left_at_exit():
    loop = asyncio.new_event_loop()
    try:
        started = []

        async def app():
            started.append(1)
            await asyncio.sleep(10)

        task = StepTask(loop, app())
        loop.call_soon(task.start)
        loop.run_until_complete(asyncio.sleep(0.01))
        assert started and not task.done()
        cancel_and_wait(loop, {task, "not a StepTask"}, 1.0)
        assert task.cancelled()
    finally:
        loop.close()


async def test_done_callbacks_run_once_on_the_loop():
    calls = []

    async def app():
        await asyncio.sleep(0)

    ended, holder = step(app())
    task = await ended
    task.add_done_callback(calls.append)  # after the end: scheduled at once
    await asyncio.sleep(0)
    assert calls == [task]
    assert task.remove_done_callback(calls.append) == 0


@pytest.mark.parametrize("bad", [object(), 5])
async def test_a_bad_yield_fails_the_coroutine_with_runtime_error(bad):
    class Odd:
        def __await__(self):
            yield bad

    errors = []

    async def app():
        try:
            await Odd()
        except RuntimeError as exc:
            errors.append(str(exc))

    ended, _ = step(app())
    await ended
    assert errors and "bad yield" in errors[0]
