"""Request ids name the worker process that answered and differ from request to request."""

from __future__ import annotations

import os

from edge.web import request_ids
from edge.web.request_ids import new_request_id, worker_of


def test_a_request_id_names_this_worker_and_is_never_repeated() -> None:
    ids = [new_request_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert {worker_of(i) for i in ids} == {request_ids.WORKER_ID}
    assert all(len(i) == 25 for i in ids)


def test_an_id_the_client_chose_names_no_worker() -> None:
    assert worker_of("abc12345-given") == ""
    assert worker_of("nohyphen") == ""


def test_a_forked_worker_gets_its_own_worker_id() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its worker id and leave at once
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    child_id = os.read(read, 100).decode()
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    assert worker_of(child_id) not in ("", request_ids.WORKER_ID)
