# usher_add_test(<name> SOURCES ... [LIBS ...] LABELS ... [TIMEOUT s])
# Builds a cmocka test executable and registers it with ctest under its labels
# (unit, db, integration, e2e).
function(usher_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_compile_options(${name} PRIVATE ${USHER_WARNINGS})
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "USHER_BIN_DIR=${CMAKE_BINARY_DIR}/bin;USHER_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()
