import pytest

from app.cli import main
from app.worker.supervisor import BACKOFF_MAX_S, describe_exit, restart_delay


def test_a_child_that_keeps_dying_soon_after_starting_is_replaced_ever_more_slowly() -> None:
    assert [restart_delay(n) for n in range(9)] == [0, 0, 1, 2, 4, 8, 16, BACKOFF_MAX_S, BACKOFF_MAX_S]


def test_an_exit_is_described_by_its_code_or_its_signal() -> None:
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(-9) == "was killed by SIGKILL"


def test_the_worker_refuses_fewer_than_one_process(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["worker", "--processes", "0"])
    assert exited.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
