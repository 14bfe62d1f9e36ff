import type { GlobalThemeOverrides } from 'naive-ui'

export const themeOverrides: GlobalThemeOverrides = {
  common: { primaryColor: '#2f6fde', primaryColorHover: '#4a86ea', primaryColorPressed: '#2158b8', primaryColorSuppl: '#4a86ea', borderRadius: '6px' }
}

/** Block colours: distinct, readable on white, in the order blocks are created. */
export const blockColors = ['#2f6fde', '#e8743b', '#19a979', '#945ecf', '#d64e7a', '#13a4b4', '#bf9b30', '#6c8893']
