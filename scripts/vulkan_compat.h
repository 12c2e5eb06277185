/* Lets llama.cpp's Vulkan backend build against Vulkan headers older than 1.3.261 (Debian 12
 * ships 1.3.239), which lack VK_EXT_layer_settings. ggml-vulkan only chains these structs into
 * instance creation to tune the validation layer, which ordinary builds never enable.
 * Force-included by scripts/build_engine.sh (--include=...); inert outside ggml-vulkan and
 * with newer headers. Layouts and the structure type value are those of the Vulkan spec. */
#if defined(__cplusplus) && defined(ggml_vulkan_EXPORTS)
#include <vulkan/vulkan_core.h>
#ifndef VK_EXT_layer_settings
#include <cstdint>
#include <vector>
namespace vk {
enum class LayerSettingTypeEXT : int32_t {
    eBool32 = 0, eInt32 = 1, eInt64 = 2, eUint32 = 3, eUint64 = 4, eFloat32 = 5, eFloat64 = 6,
    eString = 7
};
struct LayerSettingEXT {
    const char * pLayerName;
    const char * pSettingName;
    LayerSettingTypeEXT type;
    uint32_t valueCount;
    const void * pValues;
};
struct LayerSettingsCreateInfoEXT {
    VkStructureType sType = static_cast<VkStructureType>(1000496000);
    const void * pNext = nullptr;
    uint32_t settingCount = 0;
    const LayerSettingEXT * pSettings = nullptr;
    explicit LayerSettingsCreateInfoEXT(const std::vector<LayerSettingEXT> & s)
        : settingCount(static_cast<uint32_t>(s.size())), pSettings(s.data()) {}
};
}  // namespace vk
#endif
#endif
