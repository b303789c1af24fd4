# USHER_SANITIZE: OFF; ON or address (AddressSanitizer + UndefinedBehaviorSanitizer);
# thread (ThreadSanitizer, with tsan.supp for uninstrumented libraries).
# USHER_FUZZ adds libFuzzer's coverage instrumentation to everything (clang only) and
# needs address, which it turns on.
string(TOLOWER "${USHER_SANITIZE}" _usher_sanitize)
if(USHER_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "USHER_FUZZ needs clang (libFuzzer): configure with CC=clang")
  endif()
  if(_usher_sanitize MATCHES "^(off|false|no|0|)$")
    set(_usher_sanitize address)
  endif()
endif()

if(_usher_sanitize MATCHES "^(off|false|no|0|)$")
  # no sanitizer
elseif(_usher_sanitize MATCHES "^(on|true|yes|1|address)$")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(_usher_sanitize STREQUAL "thread")
  if(USHER_FUZZ)
    message(FATAL_ERROR "USHER_FUZZ runs with address, not thread")
  endif()
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
else()
  message(FATAL_ERROR "USHER_SANITIZE must be OFF, ON, address or thread, not \"${USHER_SANITIZE}\"")
endif()

if(USHER_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
