// What kerasrnn's oneDNN recurrent ops share (lstm_onednn_ops.cc,
// gru_onednn_ops.cc): the CPU engine, shape checks with Keras' names, how
// many OpenMP threads a call gets and their floating-point mode, wrapping
// TensorFlow tensors as oneDNN memories, and the weight gradient outputs. Header-only: each op library is compiled from one .cc
// file (kerasrnn/kernels/lstm_op.py hashes the headers a source includes into
// its cache key, so an edit here rebuilds every library that uses it).

#ifndef KERASRNN_KERNELS_ONEDNN_COMMON_H_
#define KERASRNN_KERNELS_ONEDNN_COMMON_H_

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "oneapi/dnnl/dnnl.hpp"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace kerasrnn {

// One CPU engine for the process: creating one is not free, and primitives
// are thread-safe to execute on separate streams.
inline const dnnl::engine& Engine() {
  static const dnnl::engine* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

inline absl::Status CheckShape(const tensorflow::Tensor& t, std::initializer_list<int64_t> expected,
                               const char* name, const char* meaning) {
  bool ok = t.dims() == static_cast<int>(expected.size());
  int i = 0;
  for (int64_t size : expected) {
    ok = ok && t.dim_size(i++) == size;
  }
  if (!ok) {
    std::string want;
    for (int64_t size : expected) want += (want.empty() ? "" : ", ") + std::to_string(size);
    return tensorflow::errors::InvalidArgument("`", name, "` must have shape ", meaning, " = (", want,
                                               "). Received shape ", t.shape().DebugString());
  }
  return absl::OkStatus();
}

// oneDNN computes on its OpenMP worker threads, which TensorFlow never
// sets up: give them the floating-point mode TensorFlow runs this op in
// (it flushes subnormal numbers to zero, which this CPU otherwise handles
// in slow microcode, as a recurrent layer's backward pass meets them).
// Each calling thread has its own team of workers, which keep the mode, so a
// thread shares it again only when the mode or the team grows (an OpenMP
// region per call costs a wake-up of every worker).
inline void ShareFloatingPointMode(int threads) {
#if defined(__SSE__) && defined(_OPENMP)
  const unsigned int mode = _mm_getcsr();
  thread_local unsigned int shared_mode = 0;
  thread_local int shared_threads = 1;  // how many of the team run in `shared_mode` (the caller always does)
  if (mode != shared_mode) {
    shared_mode = mode;
    shared_threads = 1;
  }
  if (threads <= shared_threads) return;
#pragma omp parallel num_threads(threads)
  _mm_setcsr(mode);
  shared_threads = threads;
#endif
}

// Below this much recurrent work per time step (batch * gates * units *
// units multiply-adds, about a millisecond on one core) oneDNN runs on the
// calling thread alone. Its recurrent primitives open an OpenMP region (a
// barrier of every worker) several times per step; at the tagger's and
// sentiment's sizes (32 x 3 x 128 x 128 = 1.6M) a step is microseconds of
// work, less than the wake-ups, and on a busy CPU a preempted worker stalls
// every barrier. Measured on the 2-core development machine (2026-12-06,
// load 3-4, issue #32): one thread trained the tagger's FastGRU 1.24x and
// FastSimpleRNN 1.46x faster than two, and the char LM's SimpleRNN-512
// (64 x 1 x 512 x 512) 1.1x faster. The char LM's GRU and LSTM (3 and 4
// gates) keep every thread, as measured against PyTorch on a quiet machine.
constexpr int64_t kParallelStepWork = int64_t{1} << 25;
// Forces the number of oneDNN threads per call (read on every call, so a
// benchmark can compare settings in one process); unset: the rule above.
constexpr char kThreadsEnv[] = "KERASRNN_ONEDNN_THREADS";

// The oneDNN recurrent calls running now, in every op of this library.
inline std::atomic<int>& RunningCalls() {
  static std::atomic<int> running{0};
  return running;
}

// While alive: one running oneDNN call, with the calling thread's OpenMP
// team (which oneDNN sizes itself by) set for it. One thread when the step
// is small or another call runs already (TensorFlow runs the two directions
// of a bidirectional layer at once: two full teams would oversubscribe the
// cores and stall each other's per-step barriers); else every thread
// OpenMP would give (OMP_NUM_THREADS, or the cores).
class ThreadsForCall {
 public:
  explicit ThreadsForCall(int64_t step_work) {
    const int others = RunningCalls().fetch_add(1);
#if defined(_OPENMP)
    static const int all_threads = omp_get_max_threads();  // before any call sets a team size
    int threads = (others > 0 || step_work < kParallelStepWork) ? 1 : all_threads;
    if (const char* forced = std::getenv(kThreadsEnv)) {
      if (std::atoi(forced) > 0) threads = std::atoi(forced);
    }
    omp_set_num_threads(threads);  // the calling thread's team only
    ShareFloatingPointMode(threads);
#else
    (void)others;
    (void)step_work;
#endif
  }
  ~ThreadsForCall() { RunningCalls().fetch_sub(1); }
  ThreadsForCall(const ThreadsForCall&) = delete;
  ThreadsForCall& operator=(const ThreadsForCall&) = delete;
};

inline dnnl::memory Wrap(const dnnl::memory::desc& desc, const tensorflow::Tensor& tensor) {
  // oneDNN takes non-const handles; the forward pass only reads its inputs.
  return dnnl::memory(desc, Engine(), const_cast<char*>(tensor.tensor_data().data()));
}

// `user` (Keras' layout) reordered into a new memory of the primitive's `desc`.
inline dnnl::memory Reordered(dnnl::stream& stream, dnnl::memory user, const dnnl::memory::desc& desc) {
  if (user.get_desc() == desc) return user;
  dnnl::memory packed(desc, Engine());
  dnnl::reorder(user, packed).execute(stream, user, packed);
  return packed;
}

// Zeros every byte of `memory` (oneDNN's backward passes add to the weight gradients).
inline void Zero(dnnl::memory& memory) { std::memset(memory.get_data_handle(), 0, memory.get_desc().get_size()); }

// A weight gradient output (Keras' layout, `user_desc`) as the backward
// primitive writes it (`packed_desc`), zeroed: the output tensor itself
// where the two layouts are the same (oneDNN's RNNs pick Keras' ldigo for
// f32 gradients), else a new memory that `CopyToOutput` reorders back.
class WeightGradient {
 public:
  WeightGradient(const dnnl::memory::desc& packed_desc, const dnnl::memory::desc& user_desc, tensorflow::Tensor* out)
      : user_(Wrap(user_desc, *out)), packed_(packed_desc == user_desc ? user_ : dnnl::memory(packed_desc, Engine())) {
    Zero(packed_);
  }
  const dnnl::memory& memory() const { return packed_; }
  void CopyToOutput(dnnl::stream& stream) {
    if (packed_.get_data_handle() != user_.get_data_handle()) dnnl::reorder(packed_, user_).execute(stream, packed_, user_);
  }

 private:
  dnnl::memory user_, packed_;
};

// Shape function of a forward op: inputs 0 (batch, time, features) and
// `recurrent_kernel_input` (units, gates * units); outputs the states of every
// step (batch, time, units), `final_states` states (batch, units) and a
// workspace of bytes.
inline absl::Status SequenceForwardShape(tensorflow::shape_inference::InferenceContext* c, int recurrent_kernel_input,
                                         int final_states) {
  tensorflow::shape_inference::ShapeHandle inputs, recurrent_kernel;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &inputs));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(recurrent_kernel_input), 2, &recurrent_kernel));
  auto batch = c->Dim(inputs, 0), units = c->Dim(recurrent_kernel, 0);
  c->set_output(0, c->MakeShape({batch, c->Dim(inputs, 1), units}));
  for (int i = 1; i <= final_states; ++i) c->set_output(i, c->MakeShape({batch, units}));
  c->set_output(final_states + 1, c->Vector(c->UnknownDim()));
  return absl::OkStatus();
}

// Shape function of a backward op: its outputs are the gradients of the
// forward op's inputs, each shaped as that input (the first ones).
inline absl::Status GradientShapes(tensorflow::shape_inference::InferenceContext* c) {
  for (int i = 0; i < c->num_outputs(); ++i) c->set_output(i, c->input(i));
  return absl::OkStatus();
}

}  // namespace kerasrnn

#endif  // KERASRNN_KERNELS_ONEDNN_COMMON_H_
