# install(): the header, both libraries, the CLI, an exported CMake package (ecrup::ecrup for the
# shared library, ecrup::static for the static one) and a relocatable ecrup.pc.
include(CMakePackageConfigHelpers)

install(FILES ${PROJECT_SOURCE_DIR}/include/ecrup.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
set_target_properties(ecrup_shared PROPERTIES EXPORT_NAME ecrup)
set_target_properties(ecrup_static PROPERTIES EXPORT_NAME static)
install(TARGETS ecrup_shared ecrup_static EXPORT ecrupTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS ecrup_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT ecrupTargets NAMESPACE ecrup:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ecrup)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ecrupConfig.cmake.in
    ${PROJECT_BINARY_DIR}/ecrupConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ecrup)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ecrupConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ecrupConfig.cmake ${PROJECT_BINARY_DIR}/ecrupConfigVersion.cmake
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ecrup)

# ecrup.pc locates itself: prefix is derived from pcfiledir, so the tree can be moved.
file(RELATIVE_PATH ECRUP_PC_TO_PREFIX "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" ECRUP_PC_TO_PREFIX "${ECRUP_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/ecrup.pc.in ${PROJECT_BINARY_DIR}/ecrup.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/ecrup.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
