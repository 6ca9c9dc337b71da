"""Hub workloads: gevent_c against gevent, with asyncio and uvloop columns.

The "hub" bodies are written against gevent's public API and receive the
package (``gevent`` or ``gevent_c``) as ``gevent``; where asyncio has a
natural equivalent an "asyncio" body runs the same pattern with tasks, and
runs again on uvloop.
"""
import asyncio
import gc
from time import perf_counter as clock

from ..registry import Unavailable, check, rss_bytes, workload

SLEEPERS = 100
SEM_WORKERS = 10


def _one():
    """What the spawned greenlets run."""
    return 1


async def _one_async():
    """What the created tasks run."""
    return 1

w = workload("hub.spawn_join", "spawn + join (per greenlet / task)",
             n=100_000, quick_n=5_000)


def _spawn_then_join(gevent, spawn, join, n):
    gevent.sleep(0)  # the hub exists before the clock starts
    t0 = clock()
    greenlets = [spawn(_one) for _ in range(n)]
    join(greenlets)
    elapsed = clock() - t0
    check(all(g.value == 1 for g in greenlets), "not every greenlet ran")
    return elapsed


@w.body("hub")
def spawn_join(gevent, n):
    return _spawn_then_join(gevent, gevent.spawn, gevent.joinall, n)


@w.body("asyncio")
def spawn_join_asyncio(arun, n):
    async def main():
        create_task = asyncio.get_running_loop().create_task
        t0 = clock()
        tasks = [create_task(_one_async()) for _ in range(n)]
        results = await asyncio.gather(*tasks)
        elapsed = clock() - t0
        check(sum(results) == n, "not every task ran")
        return elapsed

    return arun(main())


w = workload("hub.sleep0", f"sleep(0) among {SLEEPERS} greenlets (per sleep)",
             n=200_000, quick_n=10_000)


@w.body("hub")
def sleep0(gevent, n):
    return _sleep0(gevent, n)


def _sleep0(gevent, n):
    rounds = n // SLEEPERS
    sleep = gevent.sleep

    def run():
        for _ in range(rounds):
            sleep(0)
        return rounds

    sleep(0)
    t0 = clock()
    greenlets = [gevent.spawn(run) for _ in range(SLEEPERS)]
    gevent.joinall(greenlets)
    elapsed = clock() - t0
    check(all(g.value == rounds for g in greenlets), "a sleeper did not finish")
    return elapsed, rounds * SLEEPERS


@w.body("asyncio")
def sleep0_asyncio(arun, n):
    rounds = n // SLEEPERS
    sleep = asyncio.sleep

    async def run():
        for _ in range(rounds):
            await sleep(0)
        return rounds

    async def main():
        t0 = clock()
        results = await asyncio.gather(*(run() for _ in range(SLEEPERS)))
        elapsed = clock() - t0
        check(results == [rounds] * SLEEPERS, "a sleeper did not finish")
        return elapsed, rounds * SLEEPERS

    return arun(main())


w = workload("hub.sleep0_watched",
             f"sleep(0) among {SLEEPERS} greenlets, blocking detector on (per sleep)",
             n=200_000, quick_n=10_000)


@w.body("hub")
def sleep0_watched(gevent, n):
    """hub.sleep0 with each library's blocking detector watching the hub:
    gevent_c.blocking at 0.1 s, gevent's monitor thread at its 0.1 s."""
    hub = gevent.get_hub()
    if gevent.__name__ == "gevent_c":
        from gevent_c import blocking
        blocking.watch(hub, 0.1)
    else:
        gevent.config.monitor_thread = True
        hub.start_periodic_monitoring_thread()
    return _sleep0(gevent, n)


w = workload("hub.event_pingpong",
             "Event ping-pong between two greenlets (per round trip)",
             n=50_000, quick_n=5_000)


@w.body("hub")
def event_pingpong(gevent, n):
    Event = gevent.event.Event
    ping, pong = Event(), Event()

    def server():
        for _ in range(n):
            ping.wait()
            ping.clear()
            pong.set()
        return n

    gevent.sleep(0)
    t0 = clock()
    g = gevent.spawn(server)
    for _ in range(n):
        ping.set()
        pong.wait()
        pong.clear()
    g.join()
    elapsed = clock() - t0
    check(g.value == n, "the server greenlet did not finish")
    return elapsed


@w.body("asyncio")
def event_pingpong_asyncio(arun, n):
    async def main():
        ping, pong = asyncio.Event(), asyncio.Event()

        async def server():
            for _ in range(n):
                await ping.wait()
                ping.clear()
                pong.set()
            return n

        t0 = clock()
        task = asyncio.get_running_loop().create_task(server())
        for _ in range(n):
            ping.set()
            await pong.wait()
            pong.clear()
        served = await task
        elapsed = clock() - t0
        check(served == n, "the server task did not finish")
        return elapsed

    return arun(main())


w = workload("hub.asyncresult_pingpong",
             "AsyncResult set/get ping-pong (asyncio: Future) per round trip",
             n=50_000, quick_n=5_000)


@w.body("hub")
def asyncresult_pingpong(gevent, n):
    AsyncResult = gevent.event.AsyncResult
    requests = [AsyncResult() for _ in range(n)]
    replies = [AsyncResult() for _ in range(n)]

    def server():
        for request, reply in zip(requests, replies):
            reply.set(request.get() + 1)

    gevent.sleep(0)
    t0 = clock()
    gevent.spawn(server)
    total = 0
    for i, (request, reply) in enumerate(zip(requests, replies)):
        request.set(i)
        total += reply.get() - i
    elapsed = clock() - t0
    check(total == n, "wrong replies")
    return elapsed


@w.body("asyncio")
def asyncresult_pingpong_asyncio(arun, n):
    async def main():
        loop = asyncio.get_running_loop()
        requests = [loop.create_future() for _ in range(n)]
        replies = [loop.create_future() for _ in range(n)]

        async def server():
            for request, reply in zip(requests, replies):
                reply.set_result(await request + 1)

        t0 = clock()
        task = loop.create_task(server())
        total = 0
        for i, (request, reply) in enumerate(zip(requests, replies)):
            request.set_result(i)
            total += await reply - i
        await task
        elapsed = clock() - t0
        check(total == n, "wrong replies")
        return elapsed

    return arun(main())


def queue_workload(maxsize, label):
    w = workload(f"hub.queue_{label}",
                 f"Queue(maxsize={maxsize}) put/get between two greenlets (per item)",
                 n=100_000, quick_n=5_000)

    @w.body("hub")
    def queue(gevent, n):
        q = gevent.queue.Queue(maxsize)

        def producer():
            put = q.put
            for i in range(n):
                put(i)

        gevent.sleep(0)
        t0 = clock()
        gevent.spawn(producer)
        get = q.get
        total = 0
        for _ in range(n):
            total += get()
        elapsed = clock() - t0
        check(total == n * (n - 1) // 2, "items lost")
        return elapsed

    @w.body("asyncio")
    def queue_asyncio(arun, n):
        async def main():
            q = asyncio.Queue(maxsize or 0)

            async def producer():
                put = q.put
                for i in range(n):
                    await put(i)

            t0 = clock()
            task = asyncio.get_running_loop().create_task(producer())
            get = q.get
            total = 0
            for _ in range(n):
                total += await get()
            await task
            elapsed = clock() - t0
            check(total == n * (n - 1) // 2, "items lost")
            return elapsed

        return arun(main())


queue_workload(1, "bounded")
queue_workload(None, "unbounded")


w = workload("hub.semaphore_contended",
             f"Semaphore(1) held across sleep(0) by {SEM_WORKERS} greenlets "
             "(per acquire/release)",
             n=50_000, quick_n=5_000)


@w.body("hub")
def semaphore_contended(gevent, n):
    rounds = n // SEM_WORKERS
    sem = gevent.lock.Semaphore(1)
    sleep = gevent.sleep

    def worker():
        for _ in range(rounds):
            with sem:
                sleep(0)
        return rounds

    sleep(0)
    t0 = clock()
    greenlets = [gevent.spawn(worker) for _ in range(SEM_WORKERS)]
    gevent.joinall(greenlets)
    elapsed = clock() - t0
    check(all(g.value == rounds for g in greenlets), "a worker did not finish")
    return elapsed, rounds * SEM_WORKERS


@w.body("asyncio")
def semaphore_contended_asyncio(arun, n):
    rounds = n // SEM_WORKERS

    async def main():
        sem = asyncio.Semaphore(1)
        sleep = asyncio.sleep

        async def worker():
            for _ in range(rounds):
                async with sem:
                    await sleep(0)
            return rounds

        t0 = clock()
        results = await asyncio.gather(*(worker() for _ in range(SEM_WORKERS)))
        elapsed = clock() - t0
        check(results == [rounds] * SEM_WORKERS, "a worker did not finish")
        return elapsed, rounds * SEM_WORKERS

    return arun(main())


w = workload("hub.pool_map", "Pool(100).map over N items (per item)",
             n=100_000, quick_n=5_000)


@w.body("hub")
def pool_map(gevent, n):
    pool = gevent.pool.Pool(100)

    def double(x):
        return 2 * x

    gevent.sleep(0)
    t0 = clock()
    results = pool.map(double, range(n))
    elapsed = clock() - t0
    check(sum(results) == n * (n - 1), "wrong results")
    return elapsed


w = workload("hub.spawn_join_pool", "Pool(100): spawn + join (per greenlet / task)",
             n=100_000, quick_n=5_000)


@w.body("hub")
def spawn_join_pool(gevent, n):
    pool = gevent.pool.Pool(100)
    return _spawn_then_join(gevent, pool.spawn, lambda greenlets: pool.join(), n)


@w.body("asyncio")
def spawn_join_pool_asyncio(arun, n):
    # the asyncio idiom for a bounded pool: tasks gated by a semaphore
    async def main():
        slots = asyncio.Semaphore(100)
        create_task = asyncio.get_running_loop().create_task

        async def run():
            async with slots:
                return 1

        t0 = clock()
        tasks = [create_task(run()) for _ in range(n)]
        results = await asyncio.gather(*tasks)
        elapsed = clock() - t0
        check(sum(results) == n, "not every task ran")
        return elapsed

    return arun(main())


w = workload("hub.timeout_enter_exit", "with Timeout(1): pass (per block)",
             n=200_000, quick_n=10_000)


@w.body("hub")
def timeout_enter_exit(gevent, n):
    Timeout = gevent.Timeout
    gevent.sleep(0)
    t0 = clock()
    for _ in range(n):
        with Timeout(1):
            pass
    return clock() - t0


@w.body("asyncio")
def timeout_enter_exit_asyncio(arun, n):
    timeout = getattr(asyncio, "timeout", None)
    if timeout is None:
        raise Unavailable("asyncio.timeout needs Python 3.11")

    async def main():
        t0 = clock()
        for _ in range(n):
            async with timeout(1):
                pass
        return clock() - t0

    return arun(main())


w = workload("hub.greenlet_link", "link a callback, finish, the callback runs (per greenlet / task)",
             n=100_000, quick_n=5_000)


@w.body("hub")
def greenlet_link(gevent, n):
    seen = []
    callback = seen.append
    Greenlet = gevent.Greenlet
    gevent.sleep(0)
    t0 = clock()
    for _ in range(n):
        g = Greenlet(_one)
        g.link(callback)
        g.start()
    gevent.sleep(0)
    gevent.sleep(0)
    elapsed = clock() - t0
    check(len(seen) == n, "not every link ran (%d of %d)" % (len(seen), n))
    return elapsed


@w.body("asyncio")
def greenlet_link_asyncio(arun, n):
    async def main():
        seen = []
        callback = seen.append
        loop = asyncio.get_running_loop()
        t0 = clock()
        for _ in range(n):
            loop.create_task(_one_async()).add_done_callback(callback)
        while len(seen) < n:
            await asyncio.sleep(0)
        elapsed = clock() - t0
        check(len(seen) == n, "not every callback ran")
        return elapsed

    return arun(main())


w = workload("hub.killall", f"killall of {SLEEPERS} greenlets blocked in sleep(10) "
             "(per greenlet / task)", n=20_000, quick_n=2_000)


@w.body("hub")
def killall(gevent, n):
    spawn, sleep, killall = gevent.spawn, gevent.sleep, gevent.killall
    elapsed = 0.0
    for _ in range(n // SLEEPERS):
        greenlets = [spawn(sleep, 10) for _ in range(SLEEPERS)]
        sleep(0)  # every greenlet runs up to its sleep
        t0 = clock()
        killall(greenlets)
        elapsed += clock() - t0
        check(all(g.dead for g in greenlets), "a greenlet survived killall")
    return elapsed, n // SLEEPERS * SLEEPERS


@w.body("asyncio")
def killall_asyncio(arun, n):
    # the asyncio idiom: cancel each task, then wait for them all
    async def main():
        create_task = asyncio.get_running_loop().create_task
        elapsed = 0.0
        for _ in range(n // SLEEPERS):
            tasks = [create_task(asyncio.sleep(10)) for _ in range(SLEEPERS)]
            await asyncio.sleep(0)
            t0 = clock()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            elapsed += clock() - t0
            check(all(t.cancelled() for t in tasks), "a task survived")
        return elapsed, n // SLEEPERS * SLEEPERS

    return arun(main())


w = workload("hub.memory_sleeping",
             "memory per greenlet blocked in sleep(10) (RSS growth, lower is better)",
             n=100_000, quick_n=10_000, unit="B", warmup=False)


@w.body("hub")
def memory_sleeping(gevent, n):
    sleep = gevent.sleep
    spawn = gevent.spawn
    sleep(0)
    gc.collect()
    before = rss_bytes()
    greenlets = [spawn(sleep, 10) for _ in range(n)]
    sleep(0)  # every greenlet runs up to its sleep
    after = rss_bytes()
    check(all(g and not g.dead for g in greenlets), "a greenlet is not sleeping")
    gevent.killall(greenlets)
    return after - before


@w.body("asyncio")
def memory_sleeping_asyncio(arun, n):
    async def main():
        create_task = asyncio.get_running_loop().create_task
        sleep = asyncio.sleep
        await sleep(0)
        gc.collect()
        before = rss_bytes()
        tasks = [create_task(sleep(10)) for _ in range(n)]
        await sleep(0)
        after = rss_bytes()
        check(not any(t.done() for t in tasks), "a task is not sleeping")
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return after - before

    return arun(main())
