#pragma once
#include "api/handler.hpp"
