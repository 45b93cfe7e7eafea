//! Evaluation (spec §8): the metric formulas over an evaluator's embeddings.

pub mod metrics;

pub use metrics::{
    ActivationStats, FrechetDetail, MatchingAccumulator, MeanConf, MetricsError, MetricsReport,
    ReplicationMetrics, SymmetricEigen, TraceSqrt, activation_statistics, argsort_rows, batch_matching_sum,
    batch_r_precision_and_matching, calculate_top_k, choice_without_replacement, diversity,
    diversity_from_indices, diversity_times, diversity_with_times, euclidean_distance_matrix,
    frechet_distance, frechet_distance_detailed, frechet_distance_of, mean_and_confidence, multimodality,
    multimodality_from_indices, r_precision_and_matching, symmetric_eigen, trace_sqrt_product,
};
