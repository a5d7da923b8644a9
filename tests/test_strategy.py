"""Strategy flags: TF_CONFIG is checked with one clear line before TensorFlow reads it."""

import json
import os
from unittest import mock

import pytest
import tensorflow as tf

from sagan_tf.training import strategy as strategy_lib

CLUSTER = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}


@pytest.mark.parametrize("text, match", [
    (None, "needs the TF_CONFIG environment variable"),
    ("{bad", "TF_CONFIG is not valid JSON"),
    (json.dumps({"cluster": CLUSTER}), 'TF_CONFIG needs {"cluster"'),
    (json.dumps({"cluster": CLUSTER, "task": {"type": "chief", "index": 0}}),
     r"task type 'chief' is not a job of its cluster \['worker'\]"),
    (json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 2}}),
     r"task index 2 is outside the cluster: job 'worker' has 2 address\(es\), so the index "
     r"must be in 0..1"),
    (json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": -1}}), "index -1"),
    (json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": "2"}}),
     r"task index '2' is outside the cluster: job 'worker' has 2 address\(es\)"),
    (json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": "one"}}),
     r"task index 'one' is not an integer: give this task's position in job 'worker', 0..1"),
    (json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 1.5}}),
     "task index 1.5 is not an integer"),
])
def test_bad_tf_config_is_named(text, match):
  with pytest.raises(ValueError, match=match):
    strategy_lib.check_tf_config(text)


@pytest.mark.parametrize("index", [1, "1"])
def test_good_tf_config_passes(index):
  # TensorFlow's TFConfigClusterResolver reads the index with int(): "1" is task 1.
  text = json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": index}})
  strategy_lib.check_tf_config(text)
  resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
  with mock.patch.dict(os.environ, {"TF_CONFIG": text}):
    assert resolver.task_id == 1
