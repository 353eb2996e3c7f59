# The ecrup-bench target, included from bench/CMakeLists.txt and, in builds without the bench
# directory (the sanitizer presets), from tests/integ/bench/ so its smoke test runs there too.
ecrup_tool(ecrup-bench
    SOURCES ${PROJECT_SOURCE_DIR}/bench/ecrup_bench.c ${PROJECT_SOURCE_DIR}/bench/bench_workload.c
            ${PROJECT_SOURCE_DIR}/bench/bench_proc.c ${PROJECT_SOURCE_DIR}/bench/bench_measure.c
            ${PROJECT_SOURCE_DIR}/bench/bench_stats.c ${PROJECT_SOURCE_DIR}/bench/bench_report.c
            ${PROJECT_SOURCE_DIR}/bench/bench_results.c ${PROJECT_SOURCE_DIR}/bench/bench_chart.c
    LIBS ecrup_static OpenSSL::Crypto PkgConfig::CJSON m)
target_compile_definitions(ecrup-bench PRIVATE ECRUP_BENCH_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
set_target_properties(ecrup-bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
