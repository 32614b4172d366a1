// Which graph launches a sequence of train_step / evaluate_batch calls becomes
// (cuda/graph/launch_plan.h), on the CPU: a whole epoch, a resumed one, evaluation in between,
// and the bookkeeping that the device cursor ends where the host expects.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "cuda/graph/launch_plan.h"

namespace train_gpu::cuda {
namespace {

GraphLaunch set_cursor(int split, int64_t cursor) {
  GraphLaunch launch;
  launch.kind = GraphLaunch::Kind::kSetCursor;
  launch.split = split;
  launch.cursor = cursor;
  return launch;
}

GraphLaunch run(int split, int count, int steps, bool training) {
  GraphLaunch launch;
  launch.split = split;
  launch.count = count;
  launch.steps = steps;
  launch.training = training;
  return launch;
}

// Replays launches against a model of the device: the cursors and the batches each run reads.
struct DeviceModel {
  int64_t cursor[2] = {-1, -1};  // unknown until set, as after construction
  std::vector<std::pair<int64_t, int>> train_batches;  // (first, count) in execution order

  void apply(const std::vector<GraphLaunch>& launches) {
    for (const GraphLaunch& launch : launches) {
      if (launch.kind == GraphLaunch::Kind::kSetCursor) {
        cursor[launch.split] = launch.cursor;
        continue;
      }
      for (int step = 0; step < launch.steps; ++step) {
        ASSERT_GE(cursor[launch.split], 0) << "a run before its cursor was set";
        if (launch.training) train_batches.emplace_back(cursor[launch.split], launch.count);
        cursor[launch.split] += launch.count;
      }
    }
  }
};

TEST(LaunchPlan, AnEpochBecomesGroupsOfEightAndTheShortLastBatch) {
  // 60,000 samples = 937 x 64 + 32; 937 = 117 x 8 + 1.
  LaunchPlanner planner(8);
  DeviceModel device;
  std::vector<GraphLaunch> all;
  for (int64_t first = 0; first < 60000; first += 64) {
    const int count = first + 64 <= 60000 ? 64 : 32;
    const std::vector<GraphLaunch> launches = planner.train_step(first, count);
    all.insert(all.end(), launches.begin(), launches.end());
  }
  const std::vector<GraphLaunch> rest = planner.flush();
  all.insert(all.end(), rest.begin(), rest.end());
  device.apply(all);

  ASSERT_EQ(all.size(), 1u + 117u + 1u + 1u);
  EXPECT_EQ(all.front(), set_cursor(0, 0));
  for (std::size_t i = 1; i <= 117; ++i) EXPECT_EQ(all[i], run(0, 64, 8, true)) << i;
  EXPECT_EQ(all[118], run(0, 64, 1, true));  // the 937th full batch, released by the short one
  EXPECT_EQ(all[119], run(0, 32, 1, true));
  ASSERT_EQ(device.train_batches.size(), 938u);
  for (std::size_t i = 0; i < 938; ++i) {
    EXPECT_EQ(device.train_batches[i].first, int64_t(i) * 64);
  }
  EXPECT_EQ(device.train_batches.back().second, 32);
  EXPECT_EQ(device.cursor[0], 60000);
}

TEST(LaunchPlan, StepsAreHeldUntilAGroupFillsOrAFlush) {
  LaunchPlanner planner(4);
  EXPECT_EQ(planner.train_step(0, 10), std::vector<GraphLaunch>{set_cursor(0, 0)});
  EXPECT_TRUE(planner.train_step(10, 10).empty());
  EXPECT_EQ(planner.held_steps(), 2);
  EXPECT_EQ(planner.flush(), std::vector<GraphLaunch>{run(0, 10, 2, true)});
  EXPECT_EQ(planner.held_steps(), 0);
  EXPECT_TRUE(planner.flush().empty());
  // The cursor already stands at 20: continuing needs no set.
  EXPECT_TRUE(planner.train_step(20, 10).empty());
  EXPECT_EQ(planner.flush(), std::vector<GraphLaunch>{run(0, 10, 1, true)});
}

TEST(LaunchPlan, ANewEpochOrAResumeSetsTheCursor) {
  LaunchPlanner planner(2);
  DeviceModel device;
  device.apply(planner.train_step(0, 5));
  device.apply(planner.train_step(5, 5));  // a full group
  // A new pass starts over at 0; a resume mid-epoch starts at its own position.
  device.apply(planner.train_step(0, 5));
  device.apply(planner.train_step(5, 5));
  device.apply(planner.train_step(35, 5));  // non-consecutive: releases nothing held, sets 35
  device.apply(planner.flush());
  const std::vector<std::pair<int64_t, int>> expected = {{0, 5}, {5, 5}, {0, 5}, {5, 5}, {35, 5}};
  EXPECT_EQ(device.train_batches, expected);
}

TEST(LaunchPlan, EvaluationReleasesHeldStepsAndKeepsItsOwnCursor) {
  LaunchPlanner planner(8);
  DeviceModel device;
  device.apply(planner.train_step(0, 64));
  device.apply(planner.train_step(64, 64));
  const std::vector<GraphLaunch> evaluation = planner.evaluate_batch(1, 0, 100);
  const std::vector<GraphLaunch> expected = {run(0, 64, 2, true), set_cursor(1, 0), run(1, 100, 1, false)};
  EXPECT_EQ(evaluation, expected);
  device.apply(evaluation);
  device.apply(planner.evaluate_batch(1, 100, 100));  // consecutive: no set
  EXPECT_EQ(device.cursor[1], 200);
  // Training continues where it was; the evaluation did not move the training cursor.
  EXPECT_TRUE(planner.train_step(128, 64).empty());
  device.apply(planner.flush());
  EXPECT_EQ(device.train_batches.back().first, 128);
  // An evaluation of the training split shares the training cursor, and sets it back after.
  const std::vector<GraphLaunch> on_train = planner.evaluate_batch(0, 0, 64);
  EXPECT_EQ(on_train, (std::vector<GraphLaunch>{set_cursor(0, 0), run(0, 64, 1, false)}));
  EXPECT_EQ(planner.train_step(192, 64), std::vector<GraphLaunch>{set_cursor(0, 192)});
}

TEST(LaunchPlan, ForgottenCursorsAreSetAgain) {
  LaunchPlanner planner(1);
  EXPECT_EQ(planner.train_step(0, 3), (std::vector<GraphLaunch>{set_cursor(0, 0), run(0, 3, 1, true)}));
  EXPECT_EQ(planner.train_step(3, 3), std::vector<GraphLaunch>{run(0, 3, 1, true)});
  planner.forget_cursors();
  EXPECT_EQ(planner.train_step(6, 3), (std::vector<GraphLaunch>{set_cursor(0, 6), run(0, 3, 1, true)}));
}

TEST(LaunchPlan, RunsBecomeFullGraphsAndOneGraphOfTheRest) {
  EXPECT_EQ(graph_replays(8, 8), (std::vector<int>{8}));
  EXPECT_EQ(graph_replays(20, 8), (std::vector<int>{8, 8, 4}));
  // A partial group (flushed by a progress read of the totals) is one replay, not 7.
  EXPECT_EQ(graph_replays(7, 8), (std::vector<int>{7}));
  EXPECT_EQ(graph_replays(5, 1), (std::vector<int>{1, 1, 1, 1, 1}));
  EXPECT_EQ(graph_replays(3, 0), (std::vector<int>{1, 1, 1}));
  EXPECT_EQ(LaunchPlanner(0).steps_per_graph(), 1);
}

// The trainer reads the running totals every 100 steps (and draws progress): with 8 steps per
// graph each read flushes 4 held steps. They must stay one replay, and the groups after it full.
TEST(LaunchPlan, AProgressReadEveryHundredStepsCostsOneExtraReplay) {
  LaunchPlanner planner(8);
  std::vector<int> replays;
  auto take = [&](const std::vector<GraphLaunch>& launches) {
    for (const GraphLaunch& launch : launches) {
      if (launch.kind != GraphLaunch::Kind::kRun) continue;
      for (int steps : graph_replays(launch.steps, planner.steps_per_graph())) replays.push_back(steps);
    }
  };
  for (int step = 0; step < 200; ++step) {
    take(planner.train_step(int64_t{step} * 64, 64));
    if ((step + 1) % 100 == 0) take(planner.flush());
  }
  // Per 100 steps: 12 full groups and one of 4.
  const std::vector<int> hundred = {8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 4};
  std::vector<int> expected = hundred;
  expected.insert(expected.end(), hundred.begin(), hundred.end());
  EXPECT_EQ(replays, expected);
}

}  // namespace
}  // namespace train_gpu::cuda
