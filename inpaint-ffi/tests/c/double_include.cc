// The header compiled as C++ and included twice (the include guard must hold).
#include "inpaint.h"
#include "inpaint.h"

int main() {
    inpaint_status status = INPAINT_STATUS_OK;
    inpaint_image_view view = {nullptr, 0, 0, 0, 0, INPAINT_PIXEL_FORMAT_RGB8};
    static_assert(sizeof(inpaint_status) == 4, "statuses are uint32_t");
    return static_cast<int>(status) + static_cast<int>(view.len) +
           (INPAINT_VERSION_NUMBER > 0 ? 0 : 0);
}
