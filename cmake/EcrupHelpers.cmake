# Build helpers shared by every subsystem's CMakeLists.txt.

function(ecrup_setup_warnings)
    if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
        add_compile_options(-Wall -Wextra -Wshadow -Wconversion -Wsign-conversion -Wformat=2
            -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wpointer-arith -Wundef -Wcast-qual
            -Wno-missing-field-initializers)
        if(ECRUP_WERROR)
            add_compile_options(-Werror)
        endif()
    endif()
endfunction()

function(ecrup_setup_sanitizers)
    if(ECRUP_FUZZ)
        # Coverage feedback from the whole library, not only the fuzz entry points.
        add_compile_options(-fsanitize=fuzzer-no-link)
    endif()
    if(ECRUP_SANITIZE)
        add_compile_options(-fsanitize=${ECRUP_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
        add_link_options(-fsanitize=${ECRUP_SANITIZE})
    endif()
endfunction()

# ecrup_object_library(NAME SOURCES... [LIBS lib...])
# One subsystem's objects. ECRUP_BUILDING makes ECRUP_API export the public symbols.
function(ecrup_object_library name)
    cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
    add_library(${name} OBJECT ${ARG_SOURCES})
    target_compile_definitions(${name} PRIVATE ECRUP_BUILDING _GNU_SOURCE)
    target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR})
    if(ARG_LIBS)
        target_link_libraries(${name} PUBLIC ${ARG_LIBS})
    endif()
endfunction()

# Tests and tools link the static library rather than single subsystem objects: object
# libraries do not carry the objects of the object libraries they use, the archive does.
function(ecrup_map_libs out)
    set(libs ${ARGN})
    list(TRANSFORM libs REPLACE "^ecrup_(util|signer|io|engine)$" "ecrup_static")
    list(REMOVE_DUPLICATES libs)
    set(${out} ${libs} PARENT_SCOPE)
endfunction()

# ecrup_tool(NAME SOURCES... [LIBS lib...]): a helper program for tests or benchmarks.
function(ecrup_tool name)
    cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
    add_executable(${name} ${ARG_SOURCES})
    target_compile_definitions(${name} PRIVATE _GNU_SOURCE)
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}
        ${PROJECT_SOURCE_DIR}/tests/support)
    ecrup_map_libs(libs ${ARG_LIBS})
    target_link_libraries(${name} PRIVATE ${libs})
endfunction()

# ecrup_test(NAME SOURCES... [LIBS lib...] [ARGS arg...] [LABELS l...] [TIMEOUT s] [ENV k=v...])
# One small test program per concept; exit 77 means skipped (a kernel feature is missing).
function(ecrup_test name)
    cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;ARGS;LABELS;ENV" ${ARGN})
    add_executable(${name} ${ARG_SOURCES})
    target_compile_definitions(${name} PRIVATE _GNU_SOURCE
        ECRUP_SOURCE_DIR="${PROJECT_SOURCE_DIR}" ECRUP_BINARY_DIR="${PROJECT_BINARY_DIR}")
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}
        ${PROJECT_SOURCE_DIR}/tests/support)
    ecrup_map_libs(libs ${ARG_LIBS})
    target_link_libraries(${name} PRIVATE ecrup_testsupport ${libs})
    add_test(NAME ${name} COMMAND ${name} ${ARG_ARGS})
    if(NOT ARG_TIMEOUT)
        set(ARG_TIMEOUT 300)
    endif()
    set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT ${ARG_TIMEOUT}
        LABELS "${ARG_LABELS}" ENVIRONMENT "${ARG_ENV}")
endfunction()

# ecrup_script_test(NAME COMMAND... [LABELS l...] [TIMEOUT s] [ENV k=v...])
# A test driven by a script (python3 with boto3/botocore as the independent oracle).
function(ecrup_script_test name)
    cmake_parse_arguments(ARG "" "TIMEOUT" "COMMAND;LABELS;ENV;DEPENDS" ${ARGN})
    add_test(NAME ${name} COMMAND ${ARG_COMMAND})
    if(NOT ARG_TIMEOUT)
        set(ARG_TIMEOUT 300)
    endif()
    set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT ${ARG_TIMEOUT}
        LABELS "${ARG_LABELS}"
        ENVIRONMENT "ECRUP_BINARY_DIR=${PROJECT_BINARY_DIR};ECRUP_SOURCE_DIR=${PROJECT_SOURCE_DIR};${ARG_ENV}")
endfunction()

# ecrup_fuzz_target(NAME SOURCES... [LIBS lib...] [CORPUS dir])
# With ECRUP_FUZZ (clang) a libFuzzer binary run for a short time under CTest; otherwise the
# same entry point is driven by tests/support/fuzz_main.c over the corpus and seeded random
# inputs, so every build exercises the target.
function(ecrup_fuzz_target name)
    cmake_parse_arguments(ARG "" "CORPUS" "SOURCES;LIBS" ${ARGN})
    if(ECRUP_FUZZ)
        add_executable(${name} ${ARG_SOURCES})
        target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
        target_link_options(${name} PRIVATE -fsanitize=fuzzer)
        # libFuzzer adds new inputs to the first corpus directory: make that one in the build
        # tree so a run never writes into the checked-in corpus.
        set(work_corpus ${CMAKE_CURRENT_BINARY_DIR}/${name}-corpus)
        file(MAKE_DIRECTORY ${work_corpus})
        set(args -max_total_time=20 -timeout=10 ${work_corpus})
        if(ARG_CORPUS)
            list(APPEND args ${ARG_CORPUS})
        endif()
    else()
        add_executable(${name} ${ARG_SOURCES} ${PROJECT_SOURCE_DIR}/tests/support/fuzz_main.c)
        set(args)
        if(ARG_CORPUS)
            set(args ${ARG_CORPUS})
        endif()
    endif()
    target_compile_definitions(${name} PRIVATE _GNU_SOURCE)
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}
        ${PROJECT_SOURCE_DIR}/tests/support)
    ecrup_map_libs(libs ${ARG_LIBS})
    target_link_libraries(${name} PRIVATE ${libs})
    add_test(NAME ${name} COMMAND ${name} ${args})
    set_tests_properties(${name} PROPERTIES LABELS "fuzz" TIMEOUT 300)
endfunction()
