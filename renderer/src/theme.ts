import type { GlobalThemeOverrides } from 'naive-ui'

export const themeOverrides: GlobalThemeOverrides = {
  common: { primaryColor: '#2f6fde', primaryColorHover: '#4a86ea', primaryColorPressed: '#2158b8', primaryColorSuppl: '#4a86ea', borderRadius: '6px' }
}
