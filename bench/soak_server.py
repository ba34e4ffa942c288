"""``python -m bench.soak_server serve …``: ``visioguichet serve`` with one more route.

The soak counts the server's asyncio tasks, and only the server's own event loop can:
this runs the very same ``serve`` command (same arguments, same app, same loop) with a
route ``GET /soak/tasks`` added to the app it builds. Memory and open files the soak
reads from ``/proc/<pid>``, from outside.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from aiohttp import web

import visioguichet.app
from visioguichet.cli import main

TASKS_PATH = "/soak/tasks"


async def task_count(_request: web.Request) -> web.Response:
    tasks = asyncio.all_tasks()
    names: dict[str, int] = {}
    for task in tasks:
        coro = task.get_coro()
        name = getattr(coro, "__qualname__", type(coro).__name__)
        names[name] = names.get(name, 0) + 1
    top = dict(sorted(names.items(), key=lambda item: -item[1])[:15])
    return web.json_response({"tasks": len(tasks), "by_coroutine": top})


def _with_task_route(build: Any) -> Any:
    def build_app(settings: Any) -> web.Application:
        app: web.Application = build(settings)
        app.router.add_get(TASKS_PATH, task_count)
        return app

    return build_app


if __name__ == "__main__":
    # ``serve`` imports build_app from visioguichet.app when it runs: this is what it gets
    visioguichet.app.build_app = _with_task_route(visioguichet.app.build_app)
    sys.exit(main(sys.argv[1:]))
