// The checkpoint of a training run: one file, one place for its format.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "spiketime/config.hpp"
#include "spiketime/model.hpp"
#include "spiketime/trainer.hpp"

namespace spiketime {

// The checkpoint file: the container of io/container.hpp with a magic of
// its own, a header {model, config, epochs_done, best_epoch, best_score,
// steps}, and the arrays: each layer's weights (unpadded, as in model
// files), then the optimizer state (Trainer::OptimizerState: one array per
// layer for the first moment, then one per layer for the second, empty
// under SGD), then the best epoch's weights (once there is one). The
// checkpoint is the run's commit point: an epoch writes its metrics line,
// then the checkpoint, then model.bin; resume cuts
// metrics.jsonl back to the checkpoint's epochs and rewrites model.bin from
// its best weights, so a kill at any moment leaves a run that resumes to the
// files of an uninterrupted one. (Checkpoints without the best weights, from
// before they were added, still resume; their model.bin stays as it is.)
inline const std::string kCheckpointMagic = "SPIKETIME-CHECKPOINT\n";
inline constexpr int kCheckpointVersion = 1;

struct Progress {
  int epochs_done = 0;
  int best_epoch = 0;
  double best_score = -1.0;
};

struct Checkpoint {
  TrainConfig config;
  Progress progress;
  int64_t steps = 0;
  Model model;
  Trainer::OptimizerState optimizer_state;
  std::vector<std::vector<double>> best_weights;  // packed, per layer; empty before the first best epoch
};

// Writes the checkpoint atomically (io::write_container).
void write_checkpoint(const std::string& path, const Trainer& trainer, const TrainConfig& config, const Progress& p,
                      const std::vector<std::vector<double>>& best_weights);
// Reads and checks one: every header field for type and range, every array
// against the shapes; an InputError naming the file and the field otherwise.
Checkpoint read_checkpoint(const std::string& path);

}  // namespace spiketime
