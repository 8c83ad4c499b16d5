"""Launch detection from the variables of torchrun and SLURM."""

from __future__ import annotations

import pytest

from atomtrain.training.launch import DistributedError, detect_launch, expand_nodelist


@pytest.mark.parametrize(
    "nodelist, hosts",
    [
        ("node07", ["node07"]),
        ("gpu[01-03,07]", ["gpu01", "gpu02", "gpu03", "gpu07"]),
        ("a[8-10],login1", ["a8", "a9", "a10", "login1"]),
        ("r[1-2]n[01-02]-ib", ["r1n01-ib", "r1n02-ib", "r2n01-ib", "r2n02-ib"]),
    ],
)
def test_expand_nodelist(nodelist, hosts):
    assert expand_nodelist(nodelist) == hosts


def test_unbalanced_nodelist():
    with pytest.raises(DistributedError, match="unbalanced brackets"):
        expand_nodelist("gpu[01-02")


def test_torchrun_variables():
    launch = detect_launch(
        {
            "RANK": "3",
            "WORLD_SIZE": "8",
            "LOCAL_RANK": "1",
            "LOCAL_WORLD_SIZE": "2",
            "MASTER_ADDR": "10.0.0.1",
            "MASTER_PORT": "29500",
        }
    )
    assert launch is not None
    assert (launch.launcher, launch.rank, launch.world_size) == ("torchrun", 3, 8)
    assert (launch.local_rank, launch.local_world_size) == (1, 2)
    assert (launch.master_addr, launch.master_port) == ("10.0.0.1", 29500)


def test_slurm_variables_give_first_node_and_job_port():
    launch = detect_launch(
        {
            "SLURM_PROCID": "5",
            "SLURM_STEP_ID": "0",
            "SLURM_STEP_NUM_TASKS": "8",
            "SLURM_LOCALID": "1",
            "SLURM_STEP_TASKS_PER_NODE": "4(x2)",
            "SLURM_STEP_NODELIST": "gpu[12-13]",
            "SLURM_JOB_ID": "123456",
        }
    )
    assert launch is not None
    assert (launch.launcher, launch.rank, launch.world_size) == ("slurm", 5, 8)
    assert (launch.local_rank, launch.local_world_size) == (1, 4)
    assert launch.master_addr == "gpu12"
    assert launch.master_port == 15000 + 3456


def test_single_process_launches_are_not_distributed():
    # the batch script of a 4-task job is one process: no job step
    batch_script = {"SLURM_PROCID": "0", "SLURM_NTASKS": "4", "SLURM_JOB_ID": "1"}
    assert detect_launch(batch_script) is None
    one_task = {**batch_script, "SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "1"}
    assert detect_launch(one_task) is None
    assert detect_launch({"RANK": "0", "WORLD_SIZE": "1"}) is None
    assert detect_launch({}) is None
