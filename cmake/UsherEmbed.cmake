# usher_embed_file(<target> <symbol> <file>)
# Compiles a data file into the target as `const char <symbol>[]` (NUL-terminated) and
# `const size_t <symbol>_len`, so a daemon ships its defaults inside the binary.
function(usher_embed_file target symbol file)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${symbol}.c)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DSYMBOL=${symbol} -DOUT=${out} -DFILE=${file}
            -P ${USHER_CMAKE_DIR}/embed_file.cmake
    DEPENDS ${file} ${USHER_CMAKE_DIR}/embed_file.cmake
    COMMENT "embedding ${symbol}"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
