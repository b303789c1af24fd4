# usher_embed_migrations(<target> <symbol> <dir>)
# Compiles every <dir>/NNNN_title.sql into the target as a sorted us_migration table named
# <symbol>, so a daemon carries its own schema and needs no files at run time.
function(usher_embed_migrations target symbol dir)
  file(GLOB sql_files CONFIGURE_DEPENDS ${dir}/*.sql)
  list(SORT sql_files)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${symbol}.c)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DSYMBOL=${symbol} -DOUT=${out} "-DFILES=${sql_files}"
            -P ${USHER_CMAKE_DIR}/embed_migrations.cmake
    DEPENDS ${sql_files} ${USHER_CMAKE_DIR}/embed_migrations.cmake
    COMMENT "embedding migrations ${symbol}"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
set(USHER_CMAKE_DIR ${CMAKE_CURRENT_LIST_DIR})
